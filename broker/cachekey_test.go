package broker

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

// endpointSTS is one STS endpoint ("" for the SDK's default one): it counts
// the sessions it mints and names them after itself.
type endpointSTS struct {
	stsAPI // only GetSessionToken is called

	mu     sync.Mutex
	minted map[string]int // per endpoint and region
}

func (s *endpointSTS) at(endpoint, region string) stsAPI {
	return endpointClient{s, endpoint + " " + region}
}

func (s *endpointSTS) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.minted {
		n += c
	}
	return n
}

type endpointClient struct {
	s     *endpointSTS
	where string
}

func (c endpointClient) GetSessionToken(context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.minted[c.where]++
	n := 0
	for _, m := range c.s.minted {
		n += m
	}
	exp := time.Now().Add(8 * time.Hour)
	return &sts.GetSessionTokenOutput{Credentials: &types.Credentials{
		AccessKeyId: aws.String("ASIA0" + strconv.Itoa(n)), SecretAccessKey: aws.String("secret-of-" + strconv.Itoa(n)),
		SessionToken: aws.String("token"), Expiration: &exp,
	}}, nil
}

func (c endpointClient) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	panic("not called")
}

func (c endpointClient) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	panic("not called")
}

func (c endpointClient) GetAccessKeyInfo(context.Context, *sts.GetAccessKeyInfoInput, ...func(*sts.Options)) (*sts.GetAccessKeyInfoOutput, error) {
	panic("not called")
}

func (c endpointClient) GetFederationToken(context.Context, *sts.GetFederationTokenInput, ...func(*sts.Options)) (*sts.GetFederationTokenOutput, error) {
	panic("not called")
}

// TestCacheKeyEndpointAndPartition: a session cached from one STS endpoint
// (LocalStack, moto) or partition is never served for another, while
// another region of the same partition with the default endpoint finds the
// session it has (no new MFA code).
func TestCacheKeyEndpointAndPartition(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")
	cfg, err := awsconfig.Parse("config", []byte(`[profile dev]
region = eu-west-1
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile local]
source_profile = dev
services = local
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[services local]
sts =
  endpoint_url = http://127.0.0.1:4566
`))
	if err != nil {
		t.Fatal(err)
	}
	fake := &endpointSTS{minted: map[string]int{}}
	env := map[string]string{}
	b := &Broker{
		Config:  cfg,
		Vault:   vault.New(keyring.NewArrayKeyring(nil), "t"),
		MFA:     hostileCode{},
		LockDir: t.TempDir(),
		Getenv:  func(k string) string { return env[k] },
		Clients: Clients{
			STS:   func(_ Creds, region string) stsAPI { return fake.at("", region) },
			STSAt: func(_ Creds, region, endpoint string) stsAPI { return fake.at(endpoint, region) },
		},
	}
	key := vault.Key{AccessKeyID: "AKIA0CACHEKEYTEST000", SecretAccessKey: "secret", Added: time.Now()}
	if err := b.Vault.SetKey("dev", key); err != nil {
		t.Fatal(err)
	}

	// A session cached the old way (no endpoint, no partition) is not
	// found: it may have come from any endpoint.
	plan, err := b.Plan("dev")
	if err != nil {
		t.Fatal(err)
	}
	old := hashOf("mfa", key.AccessKeyID, plan.MFASerial, "false", plan.SessionDuration.String())
	if err := b.Vault.SetSession(vault.Session{ID: old, Profile: "dev", SourceKeyID: key.AccessKeyID,
		AccessKeyID: "ASIA0OLDFORMAT", SecretAccessKey: "old", SessionToken: "old", Expiration: time.Now().Add(8 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name   string
		region string
		env    map[string]string
		mints  bool
	}{
		{"first call", "", nil, true},
		{"again", "", nil, false},
		{"another region of the partition", "us-west-2", nil, false},
		{"the China partition", "cn-north-1", nil, true},
		{"GovCloud", "us-gov-west-1", nil, true},
		{"an isolated partition", "us-iso-east-1", nil, true},
		{"another isolated partition", "us-isob-east-1", nil, true},
		{"AWS_ENDPOINT_URL_STS", "", map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"}, true},
		{"AWS_ENDPOINT_URL_STS again", "eu-central-1", map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"}, false},
		{"AWS_ENDPOINT_URL", "", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:2"}, true},
		{"back to the default endpoint", "", nil, false},
	}
	seen := map[string]string{}
	for _, s := range steps {
		clear(env)
		for k, v := range s.env {
			env[k] = v
		}
		b.Region = s.region
		before := fake.count()
		c, err := b.Credentials(context.Background(), "dev")
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if c.AccessKeyID == "ASIA0OLDFORMAT" {
			t.Errorf("%s: served the session cached in the old format", s.name)
		}
		if minted := fake.count() > before; minted != s.mints {
			t.Errorf("%s: minted a session: %v, want %v", s.name, minted, s.mints)
		}
		if prev, ok := seen[c.AccessKeyID]; ok && s.mints {
			t.Errorf("%s: got the session of %q", s.name, prev)
		}
		seen[c.AccessKeyID] = s.name
	}

	// The services section's endpoint counts as one; the session of dev
	// (same key, same MFA device, default endpoint) is not served.
	b.Region = ""
	clear(env)
	before := fake.count()
	c, err := b.Credentials(context.Background(), "local")
	if err != nil {
		t.Fatal(err)
	}
	if fake.count() != before+1 || fake.minted["http://127.0.0.1:4566 us-east-1"] != 1 {
		t.Errorf("profile local: minted %v; want one session from its services endpoint", fake.minted)
	}
	if _, ok := seen[c.AccessKeyID]; ok {
		t.Errorf("profile local got the session of %q", seen[c.AccessKeyID])
	}
}
