//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testbus"
)

// localUser is a real second user of the machine, made with useradd and
// removed when the test ends.
type localUser struct {
	name     string
	uid, gid int
	home     string
}

func newLocalUser(t *testing.T) localUser {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("making a second local user needs root")
		}
		t.Skip("making a second local user needs root")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Fatal("useradd is not installed")
	}
	letters := make([]byte, 6)
	if _, err := rand.Read(letters); err != nil {
		t.Fatal(err)
	}
	for i := range letters {
		letters[i] = 'a' + letters[i]%26
	}
	name := "brk" + string(letters)
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Logf("userdel -r %s: %v: %s", name, err, out)
		}
	})
	u, err := osuser.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return localUser{name: name, uid: uid, gid: gid, home: u.HomeDir}
}

// run runs a program as the user, with exactly env.
func (u localUser) run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Env, c.Dir = env, "/"
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true,
		Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s as %s: %v", name, u.name, err)
	}
	return result{out.String(), errOut.String(), code}
}

// sharedTmp is a folder like /tmp (root's, mode 1777) for this test alone.
func sharedTmp(t *testing.T) string {
	dir, err := os.MkdirTemp("/tmp", "broker-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return dir
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

// TestRuntimeDirOtherUsers: without XDG_RUNTIME_DIR, another local user who
// creates broker's folder in the temp dir first, as a folder or as a link
// to a folder of the victim's, neither blocks a new session nor receives
// (or redirects) its lock files: broker uses a private folder of its own.
func TestRuntimeDirOtherUsers(t *testing.T) {
	mallory := newLocalUser(t)
	w, _ := setupDev(t)
	tmp := sharedTmp(t)
	w.env = append(testbus.Without(w.env, "XDG_RUNTIME_DIR", "TMPDIR"), "TMPDIR="+tmp)
	taken := filepath.Join(tmp, fmt.Sprintf("broker-%d", os.Getuid()))
	fallback := filepath.Join(w.home, ".cache", "broker", "run")

	victims := filepath.Join(w.home, "private") // a folder of the victim's
	if err := os.Mkdir(victims, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"link", "folder"} {
		if err := os.RemoveAll(taken); err != nil {
			t.Fatal(err)
		}
		args := []string{"-m", "0777", taken}
		cmd := "mkdir"
		if how == "link" {
			cmd, args = "ln", []string{"-s", victims, taken}
		}
		if r := mallory.run(t, []string{"PATH=/usr/bin:/bin"}, cmd, args...); r.code != 0 {
			t.Fatalf("%s as %s: %s", cmd, mallory.name, r.stderr)
		}
		w.mustBroker("clear")
		r := w.cmd(nil, brokerBin, "export", "dev")
		if r.code != 0 {
			t.Fatalf("%s's %s at %s blocked a new session: exit %d: %s", mallory.name, how, taken, r.code, r.stderr)
		}
		decodeExport(t, r.stdout)
		if how == "folder" {
			if got := entries(t, taken); len(got) != 0 {
				t.Errorf("broker wrote %v into %s's folder", got, mallory.name)
			}
		}
		if got := entries(t, victims); len(got) != 0 {
			t.Errorf("broker followed %s's link and wrote %v into %s", mallory.name, got, victims)
		}
		fi, err := os.Lstat(fallback)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			t.Fatalf("the fallback folder %s: %v, %v", fallback, fi, err)
		}
		// The agent's folder is there too.
		if locks := entries(t, fallback); !slices.ContainsFunc(locks, func(e string) bool { return strings.HasSuffix(e, ".lock") }) {
			t.Errorf("no lock file in the fallback folder: %v", locks)
		}
	}

	// With its own folder in the temp dir, broker uses it, mode 0700.
	if err := os.Remove(taken); err != nil {
		t.Fatal(err)
	}
	w.mustBroker("clear")
	decodeExport(t, w.mustBroker("export", "dev"))
	if fi, err := os.Lstat(taken); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || len(entries(t, taken)) == 0 {
		t.Errorf("broker's own %s: %v, %v", taken, fi, err)
	}
}

// TestRuntimeDirRootLeftovers: `sudo -E broker` runs as root with the
// user's XDG_RUNTIME_DIR. It leaves no root-owned folder there; one that is
// there already (from an older broker) gets the user one clear line and a
// hint instead of a block without explanation.
func TestRuntimeDirRootLeftovers(t *testing.T) {
	alice := newLocalUser(t)
	w, u := setupDev(t)
	run := filepath.Join(alice.home, "run") // alice's XDG_RUNTIME_DIR
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, alice.uid, alice.gid); err != nil {
		t.Fatal(err)
	}

	// root, with alice's XDG_RUNTIME_DIR (sudo -E).
	w.env = append(testbus.Without(w.env, "XDG_RUNTIME_DIR"), "XDG_RUNTIME_DIR="+run)
	decodeExport(t, w.mustBroker("export", "dev"))
	if got := entries(t, run); len(got) != 0 {
		t.Errorf("root's broker left %v in the user's XDG_RUNTIME_DIR", got)
	}

	// alice's own broker, with a root-owned folder left there.
	leftover := filepath.Join(run, "broker")
	if err := os.Mkdir(leftover, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(sharedTmp(t), "broker")
	if err := copyFile(brokerBin, bin); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(alice.home, "config")
	text := fmt.Sprintf("[profile dev]\nregion = eu-west-1\nmfa_serial = %s\nmfa_process = echo 123456\n", u.serial)
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=/usr/bin:/bin", "HOME=" + alice.home, "XDG_RUNTIME_DIR=" + run, "AWS_CONFIG_FILE=" + config,
		"AWS_ENDPOINT_URL=" + w.aws.URL, "BROKER_BACKEND=keyctl", "DBUS_SESSION_BUS_ADDRESS=disabled:",
		"BROKER_KEYRING_SERVICE=brokertest-" + randomHex(t, 6),
	}
	add := append(env[:len(env):len(env)], "AWS_ACCESS_KEY_ID="+u.keyID, "AWS_SECRET_ACCESS_KEY="+u.secret)
	if r := alice.run(t, add, bin, "add", "--env", "dev"); r.code != 0 {
		t.Fatalf("broker add as %s: exit %d: %s", alice.name, r.code, r.stderr)
	}
	t.Cleanup(func() { alice.run(t, env, bin, "remove", "--yes", "dev") })
	r := alice.run(t, env, bin, "export", "dev")
	want := fmt.Sprintf("broker: broker's runtime folder %s belongs to user root (uid 0), not to you\n"+
		"hint: it was probably made by `sudo -E broker`; remove it with: sudo rm -r %s\n", leftover, leftover)
	if r.code == 0 || r.stdout != "" || r.stderr != want {
		t.Errorf("a root-owned %s: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", leftover, r.code, r.stdout, r.stderr, want)
	}
	// Once it is removed, as the hint says, alice's broker works.
	if err := os.Remove(leftover); err != nil {
		t.Fatal(err)
	}
	if r := alice.run(t, env, bin, "export", "dev"); r.code != 0 {
		t.Errorf("after removing the leftover: exit %d: %s", r.code, r.stderr)
	}
	fi, err := os.Lstat(leftover)
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(alice.uid) || fi.Mode().Perm() != 0o700 {
		t.Errorf("alice's runtime folder: %v, %v", fi, err)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, b, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
