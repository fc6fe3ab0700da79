package vault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

// Made-up credentials; the tests check that none shows up in an error.
const (
	testKeyID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testToken   = "FwoGZXIvYXdzEXAMPLESESSIONTOKENxyzzy"
	testSecret2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
)

var secrets = []string{testSecret, testToken, testSecret2, "9876543210123"}

// testVault is the behaviour every backend must show. v must be empty;
// its items are removed as the test goes.
func testVault(t *testing.T, v *Vault) {
	t.Run("keys", func(t *testing.T) { testKeys(t, v) })
	t.Run("sessions", func(t *testing.T) { testSessions(t, v) })
	t.Run("garbage", func(t *testing.T) { testGarbage(t, v) })
	t.Run("namespaces", func(t *testing.T) { testNamespaces(t, v) })
	t.Run("invalid", func(t *testing.T) { testInvalid(t, v) })
}

func testKeys(t *testing.T, v *Vault) {
	added := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := v.Key("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Key of an absent profile: %v, want ErrNotFound", err)
	}
	if err := v.RemoveKey("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RemoveKey of an absent profile: %v, want ErrNotFound", err)
	}
	names := []string{"zeta", "dev", "a/b:c%d\\e"}
	for _, p := range names {
		if err := v.SetKey(p, Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret, Added: added}); err != nil {
			t.Fatalf("SetKey(%q): %v", p, err)
		}
	}
	want := Key{AccessKeyID: "AKIAI44QH8DHBEXAMPLE", SecretAccessKey: testSecret2, Added: added}
	if err := v.SetKey("dev", want); err != nil { // replaces
		t.Fatalf("SetKey again: %v", err)
	}
	got, err := v.Key("dev")
	if err != nil || got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey || !got.Added.Equal(added) {
		t.Fatalf("Key(dev) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := v.Key("a/b:c%d\\e"); err != nil || got.SecretAccessKey != testSecret {
		t.Fatalf("Key of a profile with separators in its name = %+v, %v", got, err)
	}
	profiles, err := v.KeyProfiles()
	if wantNames := []string{"a/b:c%d\\e", "dev", "zeta"}; err != nil || !slices.Equal(profiles, wantNames) {
		t.Fatalf("KeyProfiles = %q, %v; want %q", profiles, err, wantNames)
	}
	for _, p := range names {
		if err := v.RemoveKey(p); err != nil {
			t.Fatalf("RemoveKey(%q): %v", p, err)
		}
	}
	if _, err := v.Key("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Key after RemoveKey: %v, want ErrNotFound", err)
	}
	if profiles, err := v.KeyProfiles(); err != nil || len(profiles) != 0 {
		t.Fatalf("KeyProfiles after removing all = %q, %v", profiles, err)
	}
}

func testSessions(t *testing.T, v *Vault) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mfa := Session{ID: "0a1b2c", Profile: "dev", SourceKeyID: testKeyID, AccessKeyID: "ASIAEXAMPLE1", SecretAccessKey: testSecret, SessionToken: testToken, Expiration: exp}
	role := Session{ID: "ffee01", Profile: "admin", SourceKeyID: testKeyID, RoleARN: "arn:aws:iam::123456789012:role/Admin", AccessKeyID: "ASIAEXAMPLE2", SecretAccessKey: testSecret2, SessionToken: testToken + "2", Expiration: exp.Add(time.Hour)}

	if _, err := v.Session(mfa.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Session of an absent id: %v, want ErrNotFound", err)
	}
	if err := v.RemoveSession(mfa.ID); err != nil {
		t.Fatalf("RemoveSession of an absent id: %v, want nil", err)
	}
	if all, err := v.Sessions(); err != nil || len(all) != 0 {
		t.Fatalf("Sessions of an empty vault = %+v, %v", all, err)
	}
	for _, s := range []Session{mfa, role} {
		if err := v.SetSession(s); err != nil {
			t.Fatalf("SetSession(%s): %v", s.ID, err)
		}
	}
	got, err := v.Session(mfa.ID)
	if err != nil || !sameSession(got, mfa) {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, mfa)
	}
	all, err := v.Sessions()
	if err != nil || len(all) != 2 || !sameSession(all[0], role) || !sameSession(all[1], mfa) {
		t.Fatalf("Sessions = %+v, %v; want [role, mfa]", all, err)
	}
	if err := v.RemoveSession(mfa.ID); err != nil {
		t.Fatalf("RemoveSession: %v", err)
	}
	if _, err := v.Session(mfa.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Session after RemoveSession: %v, want ErrNotFound", err)
	}
	if all, err := v.Sessions(); err != nil || len(all) != 1 || all[0].ID != role.ID {
		t.Fatalf("Sessions after RemoveSession = %+v, %v", all, err)
	}
	if err := v.RemoveSession(role.ID); err != nil {
		t.Fatalf("RemoveSession: %v", err)
	}
}

// testGarbage writes undecodable entries straight to the ring: a session
// that does not decode is a cache miss and is removed; a key is an
// *UnreadableError and kept; neither error quotes the data.
func testGarbage(t *testing.T, v *Vault) {
	garbage := [][]byte{
		[]byte("not json " + testSecret),
		[]byte(`{"v":9876543210123987654321,"access_key_id":"A","secret_access_key":"` + testSecret + `"}`),
		[]byte(`{"v":1,"access_key_id":"A","secret_access_key":"s","session_token":"t","expiration":"` + testSecret + `","added":"` + testSecret + `"}`),
		[]byte(`{"v":99,"access_key_id":"A","secret_access_key":"` + testSecret + `","session_token":"t","expiration":"2030-01-01T00:00:00Z"}`),
	}
	for i, data := range garbage {
		id := "bad" + string(rune('0'+i))
		key := v.itemKey(kindSession, id)
		if err := v.ring.Set(keyring.Item{Key: key, Data: data}); err != nil {
			t.Fatal(err)
		}
		_, err := v.Session(id)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Session of garbage %d: %v, want ErrNotFound", i, err)
		}
		noSecret(t, err)
		if _, err := v.ring.Get(key); !errors.Is(err, keyring.ErrKeyNotFound) {
			t.Fatalf("garbage session %d is still in the ring: %v", i, err)
		}

		if err := v.ring.Set(keyring.Item{Key: key, Data: data}); err != nil {
			t.Fatal(err)
		}
		if all, err := v.Sessions(); err != nil || len(all) != 0 {
			t.Fatalf("Sessions with garbage %d = %+v, %v; want none", i, all, err)
		}
		if _, err := v.ring.Get(key); !errors.Is(err, keyring.ErrKeyNotFound) {
			t.Fatalf("Sessions left garbage %d in the ring: %v", i, err)
		}

		key = v.itemKey(kindKey, id)
		if err := v.ring.Set(keyring.Item{Key: key, Data: data}); err != nil {
			t.Fatal(err)
		}
		_, err = v.Key(id)
		var unreadable *UnreadableError
		if !errors.As(err, &unreadable) || errors.Is(err, ErrNotFound) || unreadable.Profile != id {
			t.Fatalf("Key of garbage %d: %v, want an *UnreadableError, not ErrNotFound", i, err)
		}
		noSecret(t, err)
		if _, err := v.ring.Get(key); err != nil {
			t.Fatalf("Key removed garbage key %d: %v", i, err)
		}
		if err := v.RemoveKey(id); err != nil {
			t.Fatalf("RemoveKey of garbage %d: %v", i, err)
		}
	}
}

// testNamespaces puts a second service, and another application's items,
// on the same ring.
func testNamespaces(t *testing.T, v *Vault) {
	other := newVault(v.ring, v.Backend(), Options{Service: v.service + ":key", Timeout: time.Minute}, false)
	foreign := []string{"dev", v.service + "x:key:dev", v.service + "-other:session:aa"}
	for _, k := range foreign {
		if err := v.ring.Set(keyring.Item{Key: k, Data: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, k := range foreign {
			_ = v.ring.Remove(k)
		}
	})
	exp := time.Now().Add(time.Hour)
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	if err := other.SetKey("ops", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret2}); err != nil {
		t.Fatal(err)
	}
	if err := other.SetSession(Session{ID: "cc", Profile: "ops", AccessKeyID: "ASIA", SecretAccessKey: testSecret2, SessionToken: testToken, Expiration: exp}); err != nil {
		t.Fatal(err)
	}
	if p, err := v.KeyProfiles(); err != nil || !slices.Equal(p, []string{"dev"}) {
		t.Errorf("KeyProfiles of %q = %q, %v; want [dev]", v.service, p, err)
	}
	if p, err := other.KeyProfiles(); err != nil || !slices.Equal(p, []string{"ops"}) {
		t.Errorf("KeyProfiles of %q = %q, %v; want [ops]", other.service, p, err)
	}
	if _, err := v.Key("ops"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a key of another service is visible: %v", err)
	}
	if all, err := v.Sessions(); err != nil || len(all) != 0 {
		t.Errorf("Sessions of %q = %+v, %v; want none", v.service, all, err)
	}
	if all, err := other.Sessions(); err != nil || len(all) != 1 {
		t.Errorf("Sessions of %q = %+v, %v; want one", other.service, all, err)
	}
	for _, err := range []error{v.RemoveKey("dev"), other.RemoveKey("ops"), other.RemoveSession("cc")} {
		if err != nil {
			t.Error(err)
		}
	}
}

func testInvalid(t *testing.T, v *Vault) {
	exp := time.Now().Add(time.Hour)
	for _, err := range []error{
		v.SetKey("", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}),
		v.SetKey("dev", Key{SecretAccessKey: testSecret}),
		v.SetKey("dev", Key{AccessKeyID: testKeyID}),
		v.SetSession(Session{Profile: "dev", AccessKeyID: "ASIA", SecretAccessKey: testSecret, SessionToken: testToken, Expiration: exp}),
		v.SetSession(Session{ID: "aa", Profile: "dev", AccessKeyID: "ASIA", SecretAccessKey: testSecret, Expiration: exp}),
		v.SetSession(Session{ID: "aa", Profile: "dev", AccessKeyID: "ASIA", SecretAccessKey: testSecret, SessionToken: testToken}),
	} {
		if err == nil {
			t.Fatal("an incomplete key or session was stored")
		}
		noSecret(t, err)
	}
	if p, err := v.KeyProfiles(); err != nil || len(p) != 0 {
		t.Fatalf("KeyProfiles after refused writes = %q, %v", p, err)
	}
}

func sameSession(a, b Session) bool {
	return a.Expiration.Equal(b.Expiration) && a.ID == b.ID && a.Profile == b.Profile && a.SourceKeyID == b.SourceKeyID &&
		a.RoleARN == b.RoleARN && a.AccessKeyID == b.AccessKeyID && a.SecretAccessKey == b.SecretAccessKey && a.SessionToken == b.SessionToken
}

func noSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Fatalf("error shows a secret: %v", err)
		}
	}
}

// uniqueService names a namespace of one test run.
func uniqueService(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "broker-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(b)
}

// requireIntegration skips a test whose real backend is missing, unless
// BROKER_REQUIRE_INTEGRATION=1 makes that a failure.
func requireIntegration(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func TestArrayKeyring(t *testing.T) {
	testVault(t, New(keyring.NewArrayKeyring(nil), uniqueService(t)))
}
