// Package testbus starts the private D-Bus session buses that broker's tests
// run against: a bare one, and one with gnome-keyring serving an unlocked
// "login" collection.
//
// The buses have no service directories, so nothing is ever started on
// demand: a client that asks for org.freedesktop.secrets before the test's
// gnome-keyring owns the name gets an error, not a second gnome-keyring
// (one without the login collection) that D-Bus activation would start.
package testbus

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus"
)

// Password unlocks the login collection that Keyring makes.
// gnome-keyring makes no login collection for an empty one.
const Password = "broker-test"

const loginPath = "/org/freedesktop/secrets/collection/login"

// Bare starts a session bus under dir on which no service runs and none
// can start, and returns its address. It stops when the test ends.
func Bare(t testing.TB, dir string) string {
	t.Helper()
	addr, _ := start(t, dir, os.Environ())
	return addr
}

// Keyring starts a session bus and gnome-keyring with its own home under
// dir, waits until the login collection is served unlocked, and returns the
// environment the test's processes need to reach it (os.Environ with HOME,
// the XDG folders and DBUS_SESSION_BUS_ADDRESS replaced) and the bus
// address. Both stop when the test ends.
func Keyring(t testing.TB, dir string) (env []string, addr string) {
	t.Helper()
	home, run := filepath.Join(dir, "home"), filepath.Join(dir, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env = append(Without(os.Environ(), "DBUS_SESSION_BUS_ADDRESS", "DBUS_SESSION_BUS_PID", "DISPLAY",
		"WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK", "HOME", "XDG_RUNTIME_DIR",
		"XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"),
		"HOME="+home, "XDG_RUNTIME_DIR="+run,
		"XDG_DATA_HOME="+filepath.Join(home, ".local/share"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	addr, _ = start(t, dir, env)
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

	// --unlock reads the password on stdin and makes the login collection
	// with it, unlocked.
	gk := exec.Command("gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground")
	gk.Env = env
	gk.Stdin = strings.NewReader(Password)
	var log syncBuffer
	gk.Stdout, gk.Stderr = &log, &log
	if err := gk.Start(); err != nil {
		t.Fatalf("starting gnome-keyring-daemon: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = gk.Wait(); close(exited) }()
	t.Cleanup(func() { gk.Process.Kill(); <-exited })
	if err := waitForLogin(addr, exited, &waitErr); err != nil {
		t.Fatalf("gnome-keyring did not come up: %v; its output: %s", err, log.String())
	}
	return env, addr
}

// start runs a dbus-daemon with no service directories, listening under
// dir, and returns its address and the daemon.
func start(t testing.TB, dir string, env []string) (string, *exec.Cmd) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock, err := os.MkdirTemp(dir, "bus")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(sock, "bus.conf")
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=`+filepath.Join(sock, "socket")+`</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	daemon.Env = env
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading dbus-daemon's address: %v", err)
	}
	return strings.TrimSpace(line), daemon
}

// waitForLogin waits until org.freedesktop.secrets has an owner and its
// login collection is unlocked, or gnome-keyring exits, or 30 s pass.
func waitForLogin(addr string, exited <-chan struct{}, waitErr *error) error {
	conn, err := dbus.Dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return err
	}
	if err := conn.Hello(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var owned bool
		err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&owned)
		if err == nil && !owned {
			err = fmt.Errorf("org.freedesktop.secrets has no owner")
		}
		if err == nil {
			var locked dbus.Variant
			locked, err = conn.Object("org.freedesktop.secrets", loginPath).GetProperty("org.freedesktop.Secret.Collection.Locked")
			if err == nil && locked.Value() == false {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("the login collection is locked")
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("gnome-keyring-daemon exited: %v", *waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no unlocked login collection after 30s: %v", err)
		}
	}
}

// Without is environ without the named variables.
func Without(environ []string, names ...string) []string {
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

// syncBuffer is a bytes.Buffer that a child's stdout and stderr may both
// write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
