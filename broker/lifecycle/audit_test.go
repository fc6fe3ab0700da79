package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/internal/moto"
	"github.com/broker-dev/broker/vault"
)

// rootSTS answers GetCallerIdentity as for the account's root user.
type rootSTS struct{ broker.STSAPI }

func (rootSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"), Arn: aws.String("arn:aws:iam::123456789012:root")}, nil
}

// auditWorld: moto; alice's key stored for dev (with an MFA device), bob's
// for ops (no mfa_serial), and a root key for boss.
func auditWorld(t *testing.T) (*Manager, *codes, map[string]vault.Key) {
	t.Helper()
	srv := moto.Start(t)
	keys := map[string]vault.Key{}
	for profile, user := range map[string]string{"dev": "alice", "ops": "bob", "boss": "carol"} {
		id, secret := srv.NewUserKey(t, user)
		keys[profile] = vault.Key{AccessKeyID: id, SecretAccessKey: secret, Added: time.Now().Add(-100 * 24 * time.Hour)}
	}
	serial := srv.NewMFADevice(t, "alice")
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("[profile dev]\nmfa_serial = "+serial+"\nbroker_key_max_age = 30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	codes := &codes{}
	b := New(&broker.Broker{Config: cfg, Vault: vault.New(keyring.NewArrayKeyring(nil), "test"), MFA: codes,
		Clients: stsAt(srv), LockDir: t.TempDir()})
	b.IAM = iamAt(srv)
	real := b.Clients.STS
	b.Clients.STS = func(c broker.Creds, region string) broker.STSAPI {
		if c.AccessKeyID == keys["boss"].AccessKeyID {
			return rootSTS{real(c, region)}
		}
		return real(c, region)
	}
	for profile, k := range keys {
		if err := b.Vault.SetKey(profile, k); err != nil {
			t.Fatal(err)
		}
	}
	return b, codes, keys
}

func TestAuditKeys(t *testing.T) {
	t.Parallel()
	b, codes, keys := auditWorld(t)
	got, err := b.AuditKeys(t.Context(), AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]KeyAudit{}
	for _, a := range got {
		byName[a.Profile] = a
		if strings.Contains(a.KeyID, keys[a.Profile].AccessKeyID) {
			t.Errorf("%s: key ID not masked: %s", a.Profile, a.KeyID)
		}
	}
	if len(got) != 3 || got[0].Profile != "boss" {
		t.Fatalf("AuditKeys = %+v", got)
	}
	dev := byName["dev"]
	if dev.IAM == nil || dev.IAM.Status != StatusActive || dev.Account != "123456789012" || dev.Root || len(dev.Problems) != 0 {
		t.Errorf("dev = %+v", dev)
	}
	// IAM's creation date (just now) wins over the keychain's (100 days ago).
	if dev.AgeDays == nil || *dev.AgeDays != 0 || dev.MaxAgeDays != 30 || dev.OverMaxAge() {
		t.Errorf("dev age = %v, max %d", dev.AgeDays, dev.MaxAgeDays)
	}
	ops := byName["ops"]
	if ops.IAM != nil || len(ops.Problems) != 1 || !strings.Contains(ops.Problems[0], "mfa_serial") {
		t.Errorf("ops = %+v", ops)
	}
	if ops.AgeDays == nil || *ops.AgeDays != 100 || !ops.OverMaxAge() {
		t.Errorf("ops age = %v, max %d", ops.AgeDays, ops.MaxAgeDays)
	}
	boss := byName["boss"]
	if !boss.Root || boss.IAM != nil || len(boss.Problems) != 0 {
		t.Errorf("boss = %+v", boss)
	}
	if n := codes.count(); n != 1 {
		t.Errorf("%d MFA codes asked, want 1 (dev's)", n)
	}

	// --no-iam asks for no code; --offline makes no call.
	asked := codes.count()
	got, err = b.AuditKeys(t.Context(), AuditOptions{NoIAM: true})
	if err != nil || codes.count() != asked || got[0].Root != true || got[1].IAM != nil || got[1].Account == "" {
		t.Errorf("--no-iam: %+v, %v, %d codes", got, err, codes.count()-asked)
	}
	got, err = b.AuditKeys(t.Context(), AuditOptions{Offline: true})
	if err != nil || got[0].Root || got[1].Account != "" || got[1].AgeDays == nil {
		t.Errorf("--offline: %+v, %v", got, err)
	}
}

func TestKeyOwners(t *testing.T) {
	t.Parallel()
	b, _, keys := auditWorld(t)
	stored, err := b.AuditKeys(t.Context(), AuditOptions{NoIAM: true})
	if err != nil {
		t.Fatal(err)
	}
	devID, other := keys["dev"].AccessKeyID, "AKIAQX0FAKEKEY0ABCDE"
	got := b.KeyOwners(t.Context(), []string{devID, other, other}, stored, AuditOptions{})
	if o := got[devID]; o.Profile != "dev" || !o.Yours || o.Account != "123456789012" {
		t.Errorf("the stored key: %+v", o)
	}
	// moto answers its own account for a key it does not know: one of ours.
	if o := got[other]; o.Account != "123456789012" || !o.Yours || o.Profile != "" || o.Problem != "" {
		t.Errorf("another key: %+v", o)
	}
	got = b.KeyOwners(t.Context(), []string{other}, stored, AuditOptions{Offline: true})
	if o := got[other]; o.Account != "" || o.Yours || o.Problem == "" {
		t.Errorf("offline: %+v", o)
	}
	got = b.KeyOwners(t.Context(), []string{other}, nil, AuditOptions{})
	if o := got[other]; o.Account != "" || !strings.Contains(o.Problem, "no stored key") {
		t.Errorf("no stored keys: %+v", o)
	}
}
