package vault

import (
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

// stuckRing is a keyring whose reads block until release is closed, as a
// Secret Service waiting on an unlock prompt does.
type stuckRing struct {
	keyring.Keyring
	release chan struct{}
}

func (r stuckRing) Get(key string) (keyring.Item, error) {
	<-r.release
	return r.Keyring.Get(key)
}

func TestTimeoutIsLocked(t *testing.T) {
	ring := stuckRing{keyring.NewArrayKeyring(nil), make(chan struct{})}
	v := New(ring, "t")
	v.gate.timeout = 100 * time.Millisecond
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err := v.Key("dev")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Key on a stuck backend: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Key on a stuck backend took %s", d)
	}
	noSecret(t, err)
	// The stuck read holds the backend: writes wait for it and time out.
	if err := v.SetKey("ops", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); !errors.Is(err, ErrLocked) {
		t.Fatalf("SetKey behind a stuck read: %v, want ErrLocked", err)
	}

	close(ring.release)
	v.gate.timeout = time.Minute
	if k, err := v.Key("dev"); err != nil || k.SecretAccessKey != testSecret {
		t.Fatalf("Key once the backend answers = %+v, %v", k, err)
	}
}

type panicRing struct{ keyring.Keyring }

func (panicRing) Keys() ([]string, error) {
	var v any = "not a path list"
	_ = v.([]int)
	return nil, nil
}

func TestBackendPanicIsError(t *testing.T) {
	v := New(panicRing{keyring.NewArrayKeyring(nil)}, "t")
	if _, err := v.KeyProfiles(); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("KeyProfiles on a panicking backend: %v", err)
	}
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatalf("the backend is unusable after a panic: %v", err)
	}
}

// countingRing counts the calls that reach the backend.
type countingRing struct {
	keyring.Keyring
	gets, keys int
}

func (r *countingRing) Get(key string) (keyring.Item, error) {
	r.gets++
	return r.Keyring.Get(key)
}

func (r *countingRing) Keys() ([]string, error) {
	r.keys++
	return r.Keyring.Keys()
}

// TestWarmPath checks that serving cached credentials costs two reads.
func TestWarmPath(t *testing.T) {
	ring := &countingRing{Keyring: keyring.NewArrayKeyring(nil)}
	v := New(ring, "t")
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	s := Session{ID: "ab", Profile: "dev", AccessKeyID: "ASIA", SecretAccessKey: testSecret2, SessionToken: testToken, Expiration: time.Now().Add(time.Hour)}
	if err := v.SetSession(s); err != nil {
		t.Fatal(err)
	}
	ring.gets, ring.keys = 0, 0
	if _, err := v.Key("dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Session("ab"); err != nil {
		t.Fatal(err)
	}
	if ring.gets != 2 || ring.keys != 0 {
		t.Fatalf("Key and Session made %d reads and %d listings, want 2 and 0", ring.gets, ring.keys)
	}
}

func TestOpenRefusesFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	v, err := Open(Options{Backend: "file"})
	var be *BackendError
	if v != nil || !errors.As(err, &be) || be.Backend != "file" {
		t.Fatalf("Open(file) = %v, %v; want a *BackendError", v, err)
	}
	if !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("the refusal does not say why: %v", err)
	}
	for _, alt := range []string{"gnome-keyring", "kwallet", "pass", "keyctl"} {
		if !strings.Contains(be.Hint, alt) {
			t.Errorf("hint %q does not name %s", be.Hint, alt)
		}
	}
	assertEmptyDir(t, home)
}

func TestOpenRefusesUnknown(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, name := range []string{"gnome-keyring", "File", "keyring"} {
		v, err := Open(Options{Backend: name})
		var be *BackendError
		if v != nil || !errors.As(err, &be) || be.Backend != name {
			t.Fatalf("Open(%q) = %v, %v; want a *BackendError", name, v, err)
		}
		for _, valid := range backends {
			if !strings.Contains(err.Error(), valid) {
				t.Errorf("Open(%q): %q does not list %s", name, err, valid)
			}
		}
	}
	assertEmptyDir(t, home)
}

func TestOpenUnavailable(t *testing.T) {
	for _, name := range backends {
		if available(name) {
			continue
		}
		_, err := Open(Options{Backend: name})
		var be *BackendError
		if !errors.As(err, &be) || be.Backend != name || !strings.Contains(err.Error(), "not available") {
			t.Errorf("Open(%q), unavailable here: %v; want a *BackendError saying so", name, err)
		}
	}
}

func TestBackendErrorUnwraps(t *testing.T) {
	err := error(&BackendError{Backend: "secret-service", Reason: "could not be opened", Err: ErrLocked})
	if !errors.Is(err, ErrLocked) || err.Error() != `keychain backend "secret-service": could not be opened: keychain is locked` {
		t.Fatalf("BackendError = %q", err)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("%s holds %v (%v), want nothing", dir, entries, err)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"dev", "a/b:c%d\\e", "%", "%zz", "..", "\x00\x7f", "ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s)
		if strings.ContainsAny(e, ":/\\") {
			t.Fatalf("escape(%q) = %q keeps a separator", s, e)
		}
		if got, err := url.PathUnescape(e); err != nil || got != s {
			t.Fatalf("unescape(escape(%q)) = %q, %v", s, got, err)
		}
	})
}
