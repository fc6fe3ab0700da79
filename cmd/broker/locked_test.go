//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testbus"
)

// TestLockedKeychain locks the Secret Service's login collection of a
// private keyring (not the one the other tests share): broker must say the
// keychain is locked, promptly, instead of waiting on an unlock prompt
// nobody can answer.
func TestLockedKeychain(t *testing.T) {
	w := newWorld(t)
	_, bus := testbus.Keyring(t, filepath.Join(w.root, "keyring"))
	w.env = append(testbus.Without(w.env, "DBUS_SESSION_BUS_ADDRESS", "BROKER_BACKEND"),
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
