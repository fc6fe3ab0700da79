package vault

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

// Keychain faults the backend tests cannot provoke on demand: a backend that
// went away, an item deleted by someone else between a listing and a read,
// and a garbage entry that cannot even be removed.

//lint:ignore ST1005 the text is D-Bus's own error message, copied as a real backend returns it
var errBackendGone = errors.New("The name org.freedesktop.secrets was not provided by any .service files")

// goneRing is a keyring whose service has gone away.
type goneRing struct{}

func (goneRing) Get(string) (keyring.Item, error) { return keyring.Item{}, errBackendGone }
func (goneRing) GetMetadata(string) (keyring.Metadata, error) {
	return keyring.Metadata{}, errBackendGone
}
func (goneRing) Set(keyring.Item) error  { return errBackendGone }
func (goneRing) Remove(string) error     { return errBackendGone }
func (goneRing) Keys() ([]string, error) { return nil, errBackendGone }

func TestFaultBackendGone(t *testing.T) {
	v := New(goneRing{}, "t")
	exp := time.Now().Add(time.Hour)
	errs := map[string]error{}
	_, errs["Key"] = v.Key("dev")
	_, errs["Session"] = v.Session("0a1b2c")
	_, errs["Sessions"] = v.Sessions()
	errs["SetSession"] = v.SetSession(Session{ID: "0a1b2c", Profile: "dev", AccessKeyID: "ASIAEXAMPLE1", SecretAccessKey: testSecret, SessionToken: testToken, Expiration: exp})
	errs["SetKey"] = v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	errs["RemoveSession"] = v.RemoveSession("0a1b2c")
	for op, err := range errs {
		// Not "not found": that would make broker mint and store over a
		// keychain it cannot reach, or tell the user to add a key again.
		if err == nil || errors.Is(err, ErrNotFound) || !errors.Is(err, errBackendGone) {
			t.Errorf("%s on a backend that is gone: %v; want its error, not ErrNotFound", op, err)
			continue
		}
		noSecret(t, err)
	}
}

// vanishingRing lists its items but has lost some of them by the time they
// are read, as when another program deletes them.
type vanishingRing struct {
	keyring.Keyring
	gone map[string]bool
}

func (r vanishingRing) Get(key string) (keyring.Item, error) {
	if r.gone[key] {
		return keyring.Item{}, keyring.ErrKeyNotFound
	}
	return r.Keyring.Get(key)
}

func TestFaultDeletedBehindOurBack(t *testing.T) {
	ring := vanishingRing{keyring.NewArrayKeyring(nil), map[string]bool{}}
	v := New(ring, "t")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for _, id := range []string{"aa01", "bb02"} {
		if err := v.SetSession(Session{ID: id, Profile: "dev", AccessKeyID: "ASIA" + id, SecretAccessKey: testSecret, SessionToken: testToken, Expiration: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	ring.gone[v.itemKey(kindSession, "aa01")] = true
	ring.gone[v.itemKey(kindKey, "dev")] = true

	all, err := v.Sessions()
	if err != nil || len(all) != 1 || all[0].ID != "bb02" {
		t.Fatalf("Sessions with one deleted since the listing = %+v, %v; want only bb02", all, err)
	}
	if _, err := v.Session("aa01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Session deleted behind our back: %v, want ErrNotFound", err)
	}
	if _, err := v.Key("dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Key deleted behind our back: %v, want ErrNotFound", err)
	}
}

// stickyRing refuses to remove anything.
type stickyRing struct{ keyring.Keyring }

func (stickyRing) Remove(string) error { return errors.New("permission denied") }

// TestFaultGarbageThatStays: a cached session that does not decode and
// cannot be removed is still a cache miss (the caller mints a fresh session
// and stores it over the garbage), and the error does not quote the data.
func TestFaultGarbageThatStays(t *testing.T) {
	ring := stickyRing{keyring.NewArrayKeyring(nil)}
	v := New(ring, "t")
	key := v.itemKey(kindSession, "cc03")
	if err := ring.Set(keyring.Item{Key: key, Data: []byte("\x00\xffgarbage " + testSecret)}); err != nil {
		t.Fatal(err)
	}
	_, err := v.Session("cc03")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("Session of garbage that cannot be removed: %v; want ErrNotFound and the reason", err)
	}
	noSecret(t, err)
	fresh := Session{ID: "cc03", Profile: "dev", AccessKeyID: "ASIAFRESH", SecretAccessKey: testSecret, SessionToken: testToken, Expiration: time.Now().Add(time.Hour)}
	if err := v.SetSession(fresh); err != nil {
		t.Fatalf("storing a fresh session over garbage: %v", err)
	}
	if s, err := v.Session("cc03"); err != nil || s.AccessKeyID != "ASIAFRESH" {
		t.Fatalf("Session after storing over garbage = %+v, %v", s.AccessKeyID, err)
	}
}
