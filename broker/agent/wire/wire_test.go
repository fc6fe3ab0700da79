//go:build linux

package wire

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// genPath is a fresh generation file's path, in a folder not yet created.
func genPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "broker", generationName)
}

// agentDir is a fresh <tmp>/broker/agent path, not yet created.
func agentDir(t *testing.T) string {
	return filepath.Join(t.TempDir(), "broker", "agent")
}

func TestEnsureDirReplacesUnsafe(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "theirs"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, plant := range map[string]func(dir string) error{
		"open mode":  func(dir string) error { return os.Mkdir(dir, 0o755) },
		"a link":     func(dir string) error { return os.Symlink(other, dir) },
		"a file":     func(dir string) error { return os.WriteFile(dir, nil, 0o600) },
		"other user": func(dir string) error { return mkdirOwnedBy(dir, 65534) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := agentDir(t)
			if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := plant(dir); err != nil {
				t.Skip(err)
			}
			if err := CheckDir(dir); !errors.Is(err, ErrUnsafe) {
				t.Fatalf("CheckDir: %v, want ErrUnsafe", err)
			}
			if err := EnsureDir(dir); err != nil {
				t.Fatal(err)
			}
			if err := CheckDir(dir); err != nil {
				t.Fatalf("after EnsureDir: %v", err)
			}
			if _, err := os.Stat(filepath.Join(other, "theirs")); err != nil {
				t.Errorf("the link's target was touched: %v", err)
			}
		})
	}
}

func mkdirOwnedBy(dir string, uid int) error {
	if os.Getuid() != 0 {
		return errors.New("needs root to make another user's folder")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return os.Chown(dir, uid, uid)
}

// A parent folder another user could write is refused: they could swap
// the agent's folder. EnsureDir does not "fix" it.
func TestParentWritableByOthersRefused(t *testing.T) {
	dir := agentDir(t)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(dir); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("EnsureDir: %v, want ErrUnsafe", err)
	}
}

func TestCheckSocket(t *testing.T) {
	dir := agentDir(t)
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckSocket(sock); err != nil {
		t.Fatalf("a 0600 socket of ours: %v", err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := CheckSocket(sock); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("a 0666 socket: %v, want ErrUnsafe", err)
	}
	if _, err := Dial(dir); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Dial to a 0666 socket: %v, want ErrUnsafe", err)
	}
	if os.Getuid() == 0 {
		os.Chmod(sock, 0o600)
		os.Chown(sock, 65534, 65534)
		if err := CheckSocket(sock); !errors.Is(err, ErrUnsafe) {
			t.Fatalf("another user's socket: %v, want ErrUnsafe", err)
		}
	}
}

// The key changes with everything that changes the direct path's answer.
func TestKeyCovers(t *testing.T) {
	dir := genPath(t)
	home := t.TempDir()
	cfg := filepath.Join(home, "config")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[profile dev]\nregion = eu-west-1\n")
	env := []string{"HOME=" + home, "AWS_CONFIG_FILE=" + cfg, "PATH=/bin"}
	key := func(profile string, env []string) string {
		k, err := Key(dir, profile, env)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key("dev", env)
	if key("dev", append(env, "PATH=/usr/bin", "TERM=xterm", "BROKER_AGENT=on")) != base {
		t.Error("variables that choose nothing changed the key")
	}
	seen := map[string]string{base: "base"}
	differ := func(what, k string) {
		t.Helper()
		if prev, ok := seen[k]; ok {
			t.Errorf("%s gives the same key as %s", what, prev)
		}
		seen[k] = what
	}
	differ("another profile", key("prod", env))
	for _, v := range []string{"AWS_REGION=x", "AWS_DEFAULT_REGION=x", "AWS_ENDPOINT_URL=http://x", "AWS_ENDPOINT_URL_STS=http://x",
		"BROKER_BACKEND=keyctl", "BROKER_KEYRING_SERVICE=x", "BROKER_MFA_PROMPT=x", "DBUS_SESSION_BUS_ADDRESS=x",
		"AWS_SESSION_TOKEN_TTL=5m", "AWS_CHAINED_SESSION_TOKEN_TTL=5m", "AWS_ASSUME_ROLE_TTL=bogus",
		"AWS_MFA_SERIAL=arn:aws:iam::123456789012:mfa/other", "AWS_SESSION_TAGS=a=b", "AWS_TRANSITIVE_TAGS=a",
		"AWS_SOURCE_IDENTITY=x", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true", "XDG_CONFIG_HOME=/x"} {
		differ(v, key("dev", append(env, v)))
	}
	write("[profile dev]\nregion = eu-west-2\n")
	differ("an edited config", key("dev", env))
	other := filepath.Join(home, "other")
	os.WriteFile(other, []byte("[profile dev]\nregion = eu-west-2\n"), 0o600)
	differ("another config file", key("dev", []string{"HOME=" + home, "AWS_CONFIG_FILE=" + other}))
	if err := EndChange(dir); err != nil {
		t.Fatal(err)
	}
	differ("a new generation", key("dev", env))
}

// While a change runs, Generation is ErrBusy; once its process is gone,
// the marker it left is an ordinary generation.
func TestGenerationWhileChanging(t *testing.T) {
	dir := genPath(t)
	if err := BeginChange(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Generation(dir); !errors.Is(err, ErrBusy) {
		t.Fatalf("during a change: %v, want ErrBusy", err)
	}
	// A marker left by a process that is gone (killed mid-change).
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("changing "+strconv.Itoa(dead.Process.Pid)+" abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if gen, err := Generation(dir); err != nil || gen == "" {
		t.Fatalf("a dead process's marker: %q, %v", gen, err)
	}
	if err := EndChange(dir); err != nil {
		t.Fatal(err)
	}
	if gen, err := Generation(dir); err != nil || len(gen) != 32 {
		t.Fatalf("after the change: %q, %v", gen, err)
	}
}

// A relative XDG_CONFIG_HOME is ignored, as the XDG spec says: the
// generation is the one under ~/.config, which every other environment reads.
func TestGenerationPathRelativeConfigHome(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CONFIG_HOME is read on Linux")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "rel")
	got, err := GenerationPath()
	if want := filepath.Join(home, ".config", "broker", generationName); err != nil || got != want {
		t.Errorf("GenerationPath() = %q, %v; want %q", got, err, want)
	}
}
