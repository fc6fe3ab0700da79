package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
)

// strictSTS is STS as it treats MFA codes: each is taken once.
type strictSTS struct {
	stsAPI // only GetSessionToken is called

	mu    sync.Mutex
	taken map[string]bool
	got   []string
}

func (s *strictSTS) GetSessionToken(_ context.Context, in *sts.GetSessionTokenInput, _ ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := aws.ToString(in.TokenCode)
	s.got = append(s.got, code)
	if s.taken[code] {
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "MultiFactorAuthentication failed with invalid MFA one time pass code."}
	}
	s.taken[code] = true
	exp := time.Now().Add(time.Hour)
	return &sts.GetSessionTokenOutput{Credentials: &types.Credentials{
		AccessKeyId: aws.String("ASIA" + code), SecretAccessKey: aws.String("secret"),
		SessionToken: aws.String("token"), Expiration: &exp,
	}}, nil
}

// scripted gives its codes in turn and keeps the requests.
type scripted struct {
	codes       []string
	interactive bool
	requests    []mfa.Request
}

func (s *scripted) Code(_ context.Context, r mfa.Request) (string, bool, error) {
	s.requests = append(s.requests, r)
	code := s.codes[min(len(s.requests), len(s.codes))-1]
	if r.Attempt > 0 && mfa.Spent(r.Used, r.Serial, code, time.Now()) {
		return "", false, mfa.ErrReused
	}
	return code, s.interactive, nil
}

const reuseSerial = "arn:aws:iam::123456789012:mfa/alice"

func newReuseBroker(t *testing.T, src TokenSource, stsFake *strictSTS) *Broker {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	config := "[profile base]\nmfa_serial = " + reuseSerial + "\nbroker_yubikey_oath = aws:alice\nbroker_mfa_prompt = ykman\n\n" +
		"[profile dev]\nsource_profile = base\nbroker_session_duration = 2h\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{
		Config:  cfg,
		Vault:   vault.New(keyring.NewArrayKeyring(nil), "test"),
		MFA:     src,
		Clients: Clients{STS: func(Creds, string) stsAPI { return stsFake }},
		LockDir: t.TempDir(),
	}
	if err := b.Vault.SetKey("base", vault.Key{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "x"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// Two MFA sessions of one device (profiles base and dev differ in their
// session duration) from a source that gives the same code twice.
func TestReusedCodeAskedAgain(t *testing.T) {
	stsFake := &strictSTS{taken: map[string]bool{}}
	src := &scripted{codes: []string{"111111", "111111", "222222"}}
	b := newReuseBroker(t, src, stsFake)
	ctx := context.Background()
	if _, err := b.Credentials(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Vault.MFACode(reuseSerial); err != nil || c.Code != "111111" {
		t.Fatalf("after the first session the keychain holds %+v, %v; want the code used", c, err)
	}
	if _, err := b.Credentials(ctx, "dev"); err != nil {
		t.Fatalf("second session: %v", err)
	}
	if want := []string{"111111", "111111", "222222"}; !slices.Equal(stsFake.got, want) {
		t.Errorf("STS got codes %q, want %q", stsFake.got, want)
	}
	if n := len(src.requests); n != 3 || src.requests[2].Attempt != 1 {
		t.Errorf("asked %d times (%+v); want a third time with Attempt 1", n, src.requests)
	}
	r := src.requests[0]
	if r.YubiKeyOATH != "aws:alice" || r.Prompt != "ykman" || r.Used == nil || src.requests[1].YubiKeyOATH != "aws:alice" {
		t.Errorf("request %+v: want the profile's ykman settings, inherited, and the used codes", r)
	}
	if c, _ := b.Vault.MFACode(reuseSerial); c.Code != "222222" {
		t.Errorf("the keychain holds %q as the last code, want 222222", c.Code)
	}
}

// A wrong code from a source that cannot give another is not asked again.
func TestRejectedCodeNotReused(t *testing.T) {
	stsFake := &strictSTS{taken: map[string]bool{"333333": true}}
	src := &scripted{codes: []string{"333333", "444444"}}
	b := newReuseBroker(t, src, stsFake)
	_, err := b.Credentials(context.Background(), "base")
	var rejected *MFARejectedError
	if !errors.As(err, &rejected) || rejected.Serial != reuseSerial {
		t.Fatalf("error = %v; want MFARejectedError", err)
	}
	if len(src.requests) != 1 {
		t.Errorf("asked %d times, want once", len(src.requests))
	}
}
