//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// groupUser is a real second user, with a real group of its own besides
// its primary one, made with useradd and removed when the test ends.
type groupUser struct {
	name, group        string
	uid, gid, groupGID int // gid: the primary group; groupGID: the other one
}

func newGroupUser(t *testing.T) groupUser {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("making a second local user needs root")
		}
		t.Skip("making a second local user needs root")
	}
	letters := func() string {
		b := make([]byte, 6)
		for i := range b {
			b[i] = byte('a' + rand.IntN(26))
		}
		return "brk" + string(b)
	}
	u := groupUser{name: letters(), group: letters()}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("groupadd", u.group)
	t.Cleanup(func() { exec.Command("groupdel", u.group).Run() })
	run("useradd", "--no-create-home", "--user-group", "--groups", u.group, "--shell", "/usr/sbin/nologin", u.name)
	t.Cleanup(func() {
		exec.Command("userdel", u.name).Run()
		exec.Command("groupdel", u.name).Run()
	})
	lookup := func(args ...string) int {
		out, err := exec.Command("id", args...).Output()
		if err != nil {
			t.Fatalf("id %v: %v", args, err)
		}
		var n int
		fmt.Sscan(string(out), &n)
		return n
	}
	u.uid, u.gid = lookup("-u", u.name), lookup("-g", u.name)
	out, err := exec.Command("getent", "group", u.group).Output()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(strings.Split(string(out), ":")[2], &u.groupGID)
	return u
}

// ownerOf returns a file's owner, group and mode.
func ownerOf(t *testing.T, path string) (uid, gid int, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode().Perm()
}

// TestEditsKeepOwnerGroupAndLinks is issue 8.4, with a real second user
// and a real group: the user's own edit keeps the file's group; root's
// (sudo -E broker setup) keeps the user's owner and group, and a file root
// makes in the user's folder is the user's; a dangling symlink gets its
// target made and stays a link; a file with hard links is refused with a
// hint and left alone.
func TestEditsKeepOwnerGroupAndLinks(t *testing.T) {
	u := newGroupUser(t)
	w := newLocalWorld(t)
	home, err := os.MkdirTemp("", "brk-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	aws := filepath.Join(home, ".aws")
	config, creds := filepath.Join(aws, "config"), filepath.Join(aws, "credentials")
	bin := filepath.Join(home, "broker")
	exe, err := os.ReadFile(brokerBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(aws, 0o700); err != nil {
		t.Fatal(err)
	}
	give := func(path string, gid int, mode fs.FileMode) {
		t.Helper()
		if err := os.Chown(path, u.uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	give(home, u.gid, 0o755)
	give(aws, u.gid, 0o700)
	env := append(append([]string{}, w.env...), "HOME="+home, "AWS_CONFIG_FILE="+config,
		"AWS_SHARED_CREDENTIALS_FILE="+creds, "TMPDIR="+home)
	runAs := func(asUser bool, args ...string) result {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env, c.Dir = env, home
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if asUser {
			c.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{uint32(u.groupGID)}}
		}
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{out.String(), errOut.String(), code}
	}
	wantOwner := func(path string, uid, gid int, mode fs.FileMode) {
		t.Helper()
		if gu, gg, gm := ownerOf(t, path); gu != uid || gg != gid || gm != mode {
			t.Errorf("%s: owner %d, group %d, mode %v; want %d, %d, %v", path, gu, gg, gm, uid, gid, mode)
		}
	}

	// The user's own edit of a file in its other group: the group stays.
	if err := os.WriteFile(config, []byte("[profile a]\n\n[profile b]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	give(config, u.groupGID, 0o640)
	if r := runAs(true, "setup", "a"); r.code != 0 {
		t.Fatalf("setup as %s: exit %d: %s", u.name, r.code, r.stderr)
	}
	wantOwner(config, u.uid, u.groupGID, 0o640)

	// Root with the user's environment (sudo -E): the user keeps the file,
	// and the lock file, which the user must be able to open next time.
	if r := runAs(false, "setup", "b"); r.code != 0 {
		t.Fatalf("setup as root: exit %d: %s", r.code, r.stderr)
	}
	wantOwner(config, u.uid, u.groupGID, 0o640)
	if lu, _, _ := ownerOf(t, filepath.Join(aws, ".config.broker.lock")); lu != u.uid {
		t.Errorf("the lock file belongs to uid %d, want the user's %d", lu, u.uid)
	}
	if !strings.Contains(readText(t, config), "export a\n") || !strings.Contains(readText(t, config), "export b\n") {
		t.Errorf("config:\n%s", readText(t, config))
	}
	if r := runAs(true, "setup", "a"); r.code != 0 {
		t.Errorf("the user's setup after root's: exit %d: %s", r.code, r.stderr)
	}

	// Root importing the user's credentials: the file keeps its owner,
	// and the config root makes is the user's. The config is a dangling
	// symlink into a dotfiles folder: its target is made, the link stays.
	dotfiles := filepath.Join(home, "dotfiles")
	if err := os.Mkdir(dotfiles, 0o700); err != nil {
		t.Fatal(err)
	}
	give(dotfiles, u.gid, 0o700)
	os.Remove(config)
	if err := os.Symlink("../dotfiles/aws/config", config); err != nil {
		t.Fatal(err)
	}
	id, secret := "AKIAQX0FAKEKEY0OWNER", "oWnerSECREToWnerSECREToWnerSECREToWner0+/"
	if err := os.WriteFile(creds, []byte("[c]\naws_access_key_id = "+id+"\naws_secret_access_key = "+secret+
		"\nmfa_serial = arn:aws:iam::000000000000:mfa/c\n\n[keep]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	give(creds, u.groupGID, 0o600)
	if r := runAs(false, "import", "--yes", "--no-verify"); r.code != 0 {
		t.Fatalf("import as root: exit %d: %s", r.code, r.stderr)
	}
	wantOwner(creds, u.uid, u.groupGID, 0o600)
	target := filepath.Join(dotfiles, "aws", "config")
	if fi, err := os.Lstat(config); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the config symlink was replaced: %v", err)
	}
	wantOwner(target, u.uid, u.gid, 0o600)
	wantOwner(filepath.Dir(target), u.uid, u.gid, 0o700)
	if got := readText(t, target); !strings.Contains(got, "[profile c]\nmfa_serial = arn:aws:iam::000000000000:mfa/c\ncredential_process = ") {
		t.Errorf("the link's target holds:\n%s", got)
	}
	if strings.Contains(readText(t, creds), secret) {
		t.Error("the key is still in the credentials file")
	}

	// A file with a second name: refused with a hint, nothing changed.
	if err := os.WriteFile(creds, []byte("[d]\naws_access_key_id = "+id+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(creds, filepath.Join(home, "credentials.backup")); err != nil {
		t.Fatal(err)
	}
	r := runAs(false, "import", "--yes")
	assertFailure(t, r, "hard links")
	if !strings.Contains(r.stderr, "hint: find its other names with `find ~ -samefile") {
		t.Errorf("no hint for the hard link:\n%s", r.stderr)
	}
	if !strings.Contains(readText(t, creds), secret) {
		t.Error("the credentials file with hard links was changed")
	}
	os.Remove(config)
	if err := os.WriteFile(config, []byte("[profile e]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(config, filepath.Join(home, "config.backup")); err != nil {
		t.Fatal(err)
	}
	assertFailure(t, runAs(false, "setup", "e"), "hard links")
	if readText(t, config) != "[profile e]\n" {
		t.Error("the config with hard links was changed")
	}
}
