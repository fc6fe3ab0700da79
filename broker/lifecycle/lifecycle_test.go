package lifecycle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/internal/moto"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
)

// These tests run the key lifecycle against moto's IAM and STS, with an
// in-memory keychain and a token source that counts the codes it gives.

// codes is a TokenSource that counts how often a code was asked for.
type codes struct {
	mu sync.Mutex
	n  int
}

func (c *codes) Code(context.Context, mfa.Request) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return "123456", false, nil
}

func (c *codes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// keyWorld is moto with user alice, her key stored for profile dev.
type keyWorld struct {
	t     testing.TB
	aws   *moto.Server
	b     *Manager
	codes *codes
	key   vault.Key // the first key
}

const testUser = "alice"

func newKeyWorld(t testing.TB, config string) *keyWorld {
	t.Helper()
	srv := moto.Start(t)
	id, secret := srv.NewUserKey(t, testUser)
	serial := srv.NewMFADevice(t, testUser)
	path := filepath.Join(t.TempDir(), "config")
	text := "[profile dev]\nregion = eu-west-1\nmfa_serial = " + serial + "\n" + config
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &keyWorld{t: t, aws: srv, codes: &codes{}, key: vault.Key{AccessKeyID: id, SecretAccessKey: secret, Added: time.Now().UTC()}}
	w.b = New(&broker.Broker{
		Config:  cfg,
		Vault:   vault.New(keyring.NewArrayKeyring(nil), "test"),
		MFA:     w.codes,
		Clients: stsAt(srv),
		LockDir: t.TempDir(),
	})
	w.b.IAM = iamAt(srv)
	if err := w.b.Vault.SetKey("dev", w.key); err != nil {
		t.Fatal(err)
	}
	return w
}

// stsAt and iamAt make clients for srv, named explicitly rather than
// through AWS_ENDPOINT_URL (t.Setenv), so that tests can run in parallel.
func stsAt(srv *moto.Server) broker.Clients {
	return broker.Clients{STS: func(c broker.Creds, region string) broker.STSAPI {
		return sts.New(sts.Options{Region: region, Credentials: broker.StaticProvider(c), BaseEndpoint: aws.String(srv.URL)})
	}}
}

func iamAt(srv *moto.Server) func(broker.Creds) iamAPI {
	return func(c broker.Creds) iamAPI {
		return iam.New(iam.Options{Region: "us-east-1", Credentials: broker.StaticProvider(c), BaseEndpoint: aws.String(srv.URL)})
	}
}

// cacheSession mints and caches dev's MFA session, as any broker command
// before would have: the use check then reads IAM through it, not with the key.
func (w *keyWorld) cacheSession() {
	w.t.Helper()
	if _, err := w.b.Credentials(context.Background(), "dev"); err != nil {
		w.t.Fatal(err)
	}
}

// stored is the key the keychain holds for dev.
func (w *keyWorld) stored() vault.Key {
	w.t.Helper()
	k, err := w.b.Vault.Key("dev")
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// checkInvariants: the keychain's key is active in IAM, and the user has at
// most two keys.
func (w *keyWorld) checkInvariants(when string) map[string]string {
	w.t.Helper()
	keys := w.aws.AccessKeys(w.t, testUser)
	if status := keys[w.stored().AccessKeyID]; status != StatusActive {
		w.t.Errorf("%s: the keychain's key is %q in IAM, want Active", when, status)
	}
	if len(keys) > MaxKeysPerUser {
		w.t.Errorf("%s: the user has %d keys", when, len(keys))
	}
	return keys
}

// checkRotated: a new stored key, active; any other key inactive (the old
// one, kept as the seeds advise); no journal.
func (w *keyWorld) checkRotated(when, oldID string) {
	w.t.Helper()
	keys := w.checkInvariants(when)
	stored := w.stored().AccessKeyID
	if stored == oldID {
		w.t.Errorf("%s: the stored key is still the old one", when)
	}
	for id, status := range keys {
		if id != stored && status != StatusInactive {
			w.t.Errorf("%s: key %s is %s, want only the stored key active", when, id, status)
		}
	}
	if _, err := w.b.Vault.Rotation("dev"); !errors.Is(err, vault.ErrNotFound) {
		w.t.Errorf("%s: a rotation journal is left: %v", when, err)
	}
}

func TestKeysList(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "broker_key_max_age = 120\n")
	otherID, _ := w.aws.NewUserKey(t, testUser) // never used
	ctx := t.Context()
	l, err := w.b.Open(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if l.User.UserName != testUser || w.codes.count() != 1 {
		t.Fatalf("user %q after %d codes", l.User.UserName, w.codes.count())
	}
	maxAge, err := w.b.MaxKeyAge("dev")
	if err != nil || maxAge != 120 {
		t.Fatalf("MaxKeyAge = %d, %v; want the profile's 120", maxAge, err)
	}
	later := time.Now().Add(100 * 24 * time.Hour)
	w.b.Now = func() time.Time { return later }
	for _, c := range []struct {
		maxAge int
		over   bool
	}{{maxAge, false}, {DefaultKeyMaxAge, true}} {
		list, err := l.Keys(ctx, c.maxAge)
		if err != nil {
			t.Fatal(err)
		}
		if list.User != testUser || len(list.Keys) != 2 {
			t.Fatalf("Keys = %+v", list)
		}
		for _, k := range list.Keys {
			if k.Status != StatusActive || k.AgeDays != 100 || k.OverMaxAge != c.over || k.Created.IsZero() {
				t.Errorf("key %s: %+v; want active, 100 days old, over %d days %v", k.ID, k, c.maxAge, c.over)
			}
			switch k.ID {
			case w.key.AccessKeyID: // GetCallerIdentity used it
				if !k.InKeychain || k.LastUsed == nil || k.LastService != "sts" || k.LastRegion == "" {
					t.Errorf("stored key: %+v; want in the keychain, last used with sts", k)
				}
			case otherID:
				if k.InKeychain || k.LastUsed != nil || k.LastService != "" {
					t.Errorf("unused key: %+v", k)
				}
			default:
				t.Errorf("unknown key %s", k.ID)
			}
		}
	}
}

func TestKeyChanges(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	otherID, _ := w.aws.NewUserKey(t, testUser)
	ctx := t.Context()
	l, err := w.b.Open(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	stored := w.key.AccessKeyID
	refusals := []struct {
		action KeyAction
		id     string
		want   error
	}{
		{ActionDelete, otherID, ErrKeyActive},
		{ActionDeactivate, stored, ErrKeyInUse},
		{ActionDelete, stored, ErrKeyActive},
		{ActionActivate, "AKIA0000000000000000", ErrNoOwner},
	}
	for _, r := range refusals {
		if _, err := l.ChangeKey(ctx, r.action, r.id, "", false); !errors.Is(err, r.want) {
			t.Errorf("%s %s: %v, want %v", r.action, r.id, err, r.want)
		}
	}
	if keys := w.aws.AccessKeys(t, testUser); keys[stored] != StatusActive || keys[otherID] != StatusActive {
		t.Fatalf("refusals changed keys: %v", keys)
	}
	for _, step := range []struct {
		action KeyAction
		want   string
	}{{ActionDeactivate, StatusInactive}, {ActionActivate, StatusActive}, {ActionDeactivate, StatusInactive}, {ActionDelete, ""}} {
		if _, err := l.ChangeKey(ctx, step.action, otherID, "", false); err != nil {
			t.Fatalf("%s: %v", step.action, err)
		}
		if got := w.aws.AccessKeys(t, testUser)[otherID]; got != step.want {
			t.Fatalf("after %s the key is %q, want %q", step.action, got, step.want)
		}
	}
	// --force deactivates the keychain's own key and drops its sessions.
	ch, err := l.ChangeKey(ctx, ActionDeactivate, stored, "", true)
	if err != nil || ch.Sessions != 1 {
		t.Fatalf("forced deactivate: %+v, %v; want the MFA session dropped", ch, err)
	}
	if got := w.aws.AccessKeys(t, testUser)[stored]; got != StatusInactive {
		t.Fatalf("forced deactivate left the key %q", got)
	}
}

// TestMaxKeyAgeFromDefault: broker_key_max_age comes from the profile, then
// from the profile holding its key, then from [default], as broker's other
// settings do; a bad value is an error naming the profile that sets it.
func TestMaxKeyAgeFromDefault(t *testing.T) {
	t.Parallel()
	const roles = "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\n" +
		"[profile own]\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nbroker_key_max_age = 120\n" +
		"[profile role]\nsource_profile = own\nrole_arn = arn:aws:iam::123456789012:role/r\n" +
		"[profile plainrole]\nsource_profile = dev\nrole_arn = arn:aws:iam::123456789012:role/r\n"
	for _, c := range []struct {
		name, def, profile string
		want               int
		err                string
	}{
		{"no default", "", "dev", DefaultKeyMaxAge, ""},
		{"default sets it", "[default]\nbroker_key_max_age = 45\n", "dev", 45, ""},
		{"with a d", "[default]\nbroker_key_max_age = 30d\n", "dev", 30, ""},
		{"the profile wins", "[default]\nbroker_key_max_age = 45\n", "own", 120, ""},
		{"the source wins", "[default]\nbroker_key_max_age = 45\n", "role", 120, ""},
		{"a role without", "[default]\nbroker_key_max_age = 45\n", "plainrole", 45, ""},
		{"default itself", "[default]\nbroker_key_max_age = 45\n", "default", 45, ""},
		{"keychain only", "[default]\nbroker_key_max_age = 45\n", "stored", 45, ""},
		{"bad in default", "[default]\nbroker_key_max_age = soon\n", "dev", 0, `profile "default": broker_key_max_age`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := awsconfig.Parse("config", []byte(c.def+roles))
			if err != nil {
				t.Fatal(err)
			}
			v := vault.New(keyring.NewArrayKeyring(nil), "test")
			if err := v.SetKey("stored", vault.Key{AccessKeyID: "AKIA0TESTTESTTESTTES", SecretAccessKey: "secret"}); err != nil {
				t.Fatal(err)
			}
			m := New(&broker.Broker{Config: cfg, Vault: v})
			got, err := m.MaxKeyAge(c.profile)
			switch {
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("MaxKeyAge(%q) = %d, %v; want an error with %q", c.profile, got, err, c.err)
			case c.err == "" && (err != nil || got != c.want):
				t.Fatalf("MaxKeyAge(%q) = %d, %v; want %d", c.profile, got, err, c.want)
			}
		})
	}
}
