package vault

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testbus"
	"github.com/godbus/dbus"
)

// childEnv tells a re-executed test binary which part it plays.
const childEnv = "BROKER_VAULT_TEST_CHILD"

const loginPath = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")

// TestSecretService runs against gnome-keyring on a private D-Bus session
// bus, never the user's: it starts dbus-daemon and gnome-keyring-daemon in
// a temporary home and runs itself again inside them. (keyring connects to
// the session bus when the test binary starts, hence the second process.)
func TestSecretService(t *testing.T) {
	if os.Getenv(childEnv) != "secret-service" {
		env := startSecretService(t)
		runChild(t, "TestSecretService", append(env, childEnv+"=secret-service"))
		return
	}
	t.Run("conformance", func(t *testing.T) {
		v, err := Open(Options{Backend: "secret-service", Service: uniqueService(t), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if v.Backend() != "secret-service" {
			t.Fatalf("Backend() = %q", v.Backend())
		}
		testVault(t, v)
	})
	t.Run("picked first", func(t *testing.T) {
		v, err := Open(Options{Service: uniqueService(t)})
		if err != nil || v.Backend() != "secret-service" {
			t.Fatalf("Open with no backend named = %v, %v; want secret-service", v, err)
		}
	})
	t.Run("missing collection", func(t *testing.T) {
		_, err := Open(Options{Backend: "secret-service", Collection: "no-such-collection"})
		var be *BackendError
		if !errors.As(err, &be) {
			t.Fatalf("Open with a missing collection: %v, want a *BackendError", err)
		}
		if !strings.Contains(err.Error(), `no collection "no-such-collection"`) || !strings.Contains(be.Hint, `"login"`) {
			t.Fatalf("Open with a missing collection: %v (hint %q)", err, be.Hint)
		}
	})
	// Last: the collection stays locked.
	t.Run("locked", testSecretServiceLocked)
}

// testSecretServiceLocked locks the login collection. An unlock prompt
// that cannot be shown (no display here) is refused at once; one that is
// shown but never answered runs into the timeout. Either way: ErrLocked,
// no hang.
func testSecretServiceLocked(t *testing.T) {
	const timeout = 2 * time.Second
	v, err := Open(Options{Backend: "secret-service", Service: uniqueService(t), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	bus, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err = bus.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").
		Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{loginPath}).Store(&locked, &prompt)
	if err != nil || !slices.Contains(locked, loginPath) {
		t.Fatalf("locking the login collection: %v %v (prompt %s)", locked, err, prompt)
	}

	check := func(t *testing.T, what string, err error, start time.Time) {
		t.Helper()
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("%s on a locked collection: %v, want ErrLocked", what, err)
		}
		noSecret(t, err)
		if d := time.Since(start); d > timeout+5*time.Second {
			t.Fatalf("%s on a locked collection took %s", what, d)
		}
	}
	t.Run("prompt refused", func(t *testing.T) {
		start := time.Now()
		_, err := v.Key("dev")
		check(t, "Key", err, start)
		start = time.Now()
		err = v.SetKey("ops", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret})
		check(t, "SetKey", err, start)
	})
	t.Run("prompt unanswered", func(t *testing.T) {
		stopPrompter := silentPrompter(t)
		defer stopPrompter()
		start := time.Now()
		_, err := v.Key("dev")
		check(t, "Key", err, start)
		if d := time.Since(start); d < timeout {
			t.Fatalf("Key returned after %s, before the timeout: was the prompt shown? (%v)", d, err)
		}
		start = time.Now()
		_, err = v.Session("ab")
		check(t, "Session behind a waiting prompt", err, start)
	})
}

// silentPrompter stands in for gcr-prompter, gnome-keyring's dialog: it
// accepts the request to prompt and then never shows anything, like a
// dialog nobody answers. Stopping it dismisses the prompt.
func silentPrompter(t *testing.T) (stop func()) {
	conn, err := dbus.SessionBusPrivate()
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Auth(nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Hello(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(prompter{}, "/org/gnome/keyring/Prompter", "org.gnome.keyring.internal.Prompter"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.gnome.keyring.SystemPrompter", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning the prompter's name: %v %v", reply, err)
	}
	return func() { conn.Close() }
}

type prompter struct{}

func (prompter) BeginPrompting(callback dbus.ObjectPath) *dbus.Error { return nil }

func (prompter) StopPrompting(callback dbus.ObjectPath) *dbus.Error { return nil }

// startSecretService starts a D-Bus session bus and gnome-keyring, with an
// unlocked "login" collection, in a temporary home, and returns the
// environment to reach them. Both stop at the end of the test.
func startSecretService(t *testing.T) []string {
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			requireIntegration(t, "no Secret Service to test: %v", err)
		}
	}
	env, _ := testbus.Keyring(t, t.TempDir())
	return env
}

// runChild runs test in a new process of this test binary, with env.
// wrap, if given, is a command the binary runs under (such as keyctl).
func runChild(t *testing.T, test string, env []string, wrap ...string) {
	t.Helper()
	args := append(wrap, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s in a child process: %v\n%s", test, err, out)
	}
	t.Logf("%s in a child process:\n%s", test, out)
}
