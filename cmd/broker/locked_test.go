//go:build linux

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockedKeychain locks the Secret Service's login collection of a
// private keyring (not the one the other tests share): broker must say the
// keychain is locked, promptly, instead of waiting on an unlock prompt
// nobody can answer.
func TestLockedKeychain(t *testing.T) {
	w := newWorld(t)
	bus := privateSecretService(t, filepath.Join(w.root, "keyring"))
	w.env = append(withoutVar(w.env, "DBUS_SESSION_BUS_ADDRESS", "BROKER_BACKEND"),
		"DBUS_SESSION_BUS_ADDRESS="+bus, "BROKER_BACKEND=secret-service",
		// The direct path reading a locked keychain; an agent keeps
		// serving what it holds (README: The agent).
		"BROKER_AGENT=off")
	u := w.newUser("erin")
	w.writeConfig("[profile dev]\nmfa_serial = " + u.serial + "\nmfa_process = " + w.mfaProcess("123456") + "\n")
	w.addKey("dev", u)
	w.mustBroker("export", "dev")

	lock := exec.Command("dbus-send", "--session", "--dest=org.freedesktop.secrets", "--print-reply",
		"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		"array:objpath:/org/freedesktop/secrets/collection/login")
	lock.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+bus)
	if out, err := lock.CombinedOutput(); err != nil {
		t.Fatalf("locking the login collection: %v: %s", err, out)
	}
	before, _ := os.ReadFile(w.config)
	start := time.Now()
	r := w.cmd(nil, brokerBin, "export", "dev")
	assertFailure(t, r, "locked")
	if !strings.Contains(r.stderr, "hint: unlock your keychain") {
		t.Errorf("no hint to unlock: %q", r.stderr)
	}
	// Bounded by vault's 10 s operation timeout, whatever happens.
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("a locked keychain took %s to report", d)
	}
	if after, _ := os.ReadFile(w.config); string(after) != string(before) {
		t.Error("the config changed")
	}
}

// privateSecretService starts a session bus and gnome-keyring (unlocked
// "login" collection) with their own home under dir, and returns the bus
// address. Both stop when the test ends.
func privateSecretService(t *testing.T, dir string) string {
	t.Helper()
	home, run := filepath.Join(dir, "home"), filepath.Join(dir, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env := append(withoutVar(os.Environ(), "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY",
		"HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GNOME_KEYRING_CONTROL"),
		"HOME="+home, "XDG_RUNTIME_DIR="+run)
	daemon := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile",
		"--address=unix:path="+filepath.Join(run, "bus"), "--print-address=1")
	daemon.Env = env
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading dbus-daemon's address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)
	keyring := exec.Command("gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground")
	keyring.Env = env
	keyring.Stdin = strings.NewReader("broker-test") // an empty password makes no login collection
	if err := keyring.Start(); err != nil {
		t.Fatalf("starting gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { keyring.Process.Kill(); keyring.Wait() })
	// Wait until the login collection answers, unlocked.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		probe := exec.Command("dbus-send", "--session", "--dest=org.freedesktop.secrets", "--print-reply=literal",
			"/org/freedesktop/secrets/collection/login", "org.freedesktop.DBus.Properties.Get",
			"string:org.freedesktop.Secret.Collection", "string:Locked")
		probe.Env = env
		if b, err := probe.Output(); err == nil && strings.Contains(string(b), "false") {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("no unlocked login collection on the private bus after 15s")
		}
	}
}

// withoutVar is environ without the named variables.
func withoutVar(environ []string, names ...string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
