package broker

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

func planBroker(t *testing.T, config string, env map[string]string) *Broker {
	t.Helper()
	cfg, err := awsconfig.Parse("/home/me/.aws/config", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{Config: cfg, Vault: vault.New(keyring.NewArrayKeyring(nil), "test"),
		Getenv: func(k string) string { return env[k] }, Region: env["AWS_REGION"]}
	if err := b.Vault.SetKey("base", vault.Key{AccessKeyID: "AKIA0TESTKEY00000000", SecretAccessKey: "secret"}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlanEndpoints(t *testing.T) {
	const services = "[services local]\nsts =\n  endpoint_url = http://sts.services\niam =\n  endpoint_url = http://iam.services\n"
	tests := []struct {
		name, profile string
		env           map[string]string
		sts, iam      string
	}{
		{"none", "", nil, "", ""},
		{"profile", "endpoint_url = http://profile\n", nil, "http://profile", "http://profile"},
		{"services over profile", "endpoint_url = http://profile\nservices = local\n", nil, "http://sts.services", "http://iam.services"},
		{"services without the service", "endpoint_url = http://profile\nservices = empty\n", nil, "http://profile", "http://profile"},
		{"AWS_ENDPOINT_URL over services", "services = local\n", map[string]string{"AWS_ENDPOINT_URL": "http://env"}, "http://env", "http://env"},
		{"AWS_ENDPOINT_URL_STS over AWS_ENDPOINT_URL", "services = local\n",
			map[string]string{"AWS_ENDPOINT_URL": "http://env", "AWS_ENDPOINT_URL_STS": "http://env-sts"}, "http://env-sts", "http://env"},
		{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "endpoint_url = http://profile\nservices = local\n",
			map[string]string{"AWS_ENDPOINT_URL": "http://env", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}, "", ""},
		{"ignore_configured_endpoint_urls", "endpoint_url = http://profile\nignore_configured_endpoint_urls = true\n",
			map[string]string{"AWS_ENDPOINT_URL_STS": "http://env"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// [default]'s endpoint is never taken: it would send every
			// profile's signed calls elsewhere.
			config := "[default]\nendpoint_url = http://default\n[profile base]\n" + tt.profile + services + "[services empty]\n"
			p, err := planBroker(t, config, tt.env).Plan("base")
			if err != nil {
				t.Fatal(err)
			}
			if p.STSEndpoint != tt.sts || p.IAMEndpoint != tt.iam {
				t.Errorf("endpoints %q, %q; want %q, %q", p.STSEndpoint, p.IAMEndpoint, tt.sts, tt.iam)
			}
		})
	}
}

func TestPlanDefaultAndRegion(t *testing.T) {
	config := "[default]\nregion = ap-northeast-1\nmfa_serial = arn:default\nmfa_process = default-process\nbroker_no_mfa = true\n" +
		"role_session_name = me\nduration_seconds = 1800\nbroker_yubikey_oath = default-oath\n" +
		"role_arn = arn:aws:iam::1:role/everyone\nsource_profile = base\n" +
		"[profile base]\nregion = eu-central-1\nmfa_serial = arn:base\n" +
		"[profile target]\nsource_profile = base\nrole_arn = arn:aws:iam::1:role/target\n" +
		"[profile plain]\nsource_profile = base\nrole_arn = arn:aws:iam::1:role/plain\nregion = us-west-1\nrole_session_name = own\n"
	b := planBroker(t, config, nil)
	p, err := b.Plan("target")
	if err != nil {
		t.Fatal(err)
	}
	// The chain's own mfa_serial beats [default]'s; the source's region is not taken.
	if p.MFASerial != "arn:base" || p.MFAProcess != "default-process" || p.NoMFA || p.Region != "ap-northeast-1" || p.YubiKeyOATH != "default-oath" {
		t.Errorf("plan %+v", p)
	}
	want := []Role{{Profile: "target", ARN: "arn:aws:iam::1:role/target", SessionName: "me", Duration: 30 * time.Minute}}
	if !reflect.DeepEqual(p.Roles, want) {
		t.Errorf("roles %+v, want %+v", p.Roles, want)
	}
	if p, err = b.Plan("plain"); err != nil || p.Region != "us-west-1" || p.Roles[0].SessionName != "own" {
		t.Errorf("plain: %+v, %v", p, err)
	}
	// [default]'s role_arn and source_profile do not make base a role.
	if p, err = b.Plan("base"); err != nil || len(p.Roles) != 0 || p.Root != "base" {
		t.Errorf("base: %+v, %v", p, err)
	}
	// The caller's AWS_REGION wins over the profile's.
	b.Region = "us-west-2"
	if p, _ = b.Plan("plain"); p.Region != "us-west-2" {
		t.Errorf("with AWS_REGION: region %q", p.Region)
	}
	// broker_no_mfa is said per profile, never inherited from [default].
	b = planBroker(t, "[default]\nbroker_no_mfa = true\n[profile base]\n", nil)
	if p, _ = b.Plan("base"); p.NoMFA {
		t.Error("[default]'s broker_no_mfa opted base out of MFA")
	}
}

func TestPlanChainedDurations(t *testing.T) {
	config := "[profile base]\nmfa_serial = arn:m\n" +
		"[profile a]\nsource_profile = base\nrole_arn = arn:a\nduration_seconds = 43200\n" +
		"[profile b]\nsource_profile = a\nrole_arn = arn:b\nduration_seconds = 7200\nsession_tags = from=b\n" +
		"[profile c]\nsource_profile = b\nrole_arn = arn:c\nduration_seconds = 900\nsession_tags = from=c\nsource_identity = cfg\n"
	env := map[string]string{"AWS_SESSION_TAGS": "from=env", "AWS_TRANSITIVE_TAGS": "from", "AWS_SOURCE_IDENTITY": "env-id"}
	p, err := planBroker(t, config, env).Plan("c")
	if err != nil {
		t.Fatal(err)
	}
	want := []Role{
		{Profile: "a", ARN: "arn:a", Duration: 12 * time.Hour},
		{Profile: "b", ARN: "arn:b", Duration: time.Hour, Capped: 2 * time.Hour, Tags: []awsconfig.Tag{{Key: "from", Value: "b"}}},
		{Profile: "c", ARN: "arn:c", Duration: 15 * time.Minute, Tags: []awsconfig.Tag{{Key: "from", Value: "env"}},
			TransitiveTagKeys: []string{"from"}, SourceIdentity: "env-id"},
	}
	if !reflect.DeepEqual(p.Roles, want) {
		t.Errorf("roles\n %+v\nwant\n %+v", p.Roles, want)
	}
	if !direct(p, 1) || direct(p, 2) {
		t.Error("the 12 h first role is not assumed from the key, or the second is")
	}
	if _, err := planBroker(t, config, map[string]string{"AWS_SESSION_TAGS": "nope"}).Plan("c"); err == nil {
		t.Error("a malformed AWS_SESSION_TAGS was accepted")
	}
}

func TestPlanUnsupported(t *testing.T) {
	config := "[profile sso]\nsso_start_url = https://x.awsapps.com/start\nsso_role_name = r\n" +
		"[profile base]\nsso_start_url = https://x.awsapps.com/start\nmfa_serial = arn:m\n"
	b := planBroker(t, config, nil)
	var unsupported *UnsupportedError
	if _, err := b.Plan("sso"); !errors.As(err, &unsupported) || unsupported.Profile != "sso" {
		t.Errorf("an SSO profile: err = %v", err)
	}
	// With a stored key broker uses the key.
	if _, err := b.Plan("base"); err != nil {
		t.Errorf("a profile with a stored key and sso keys: %v", err)
	}
}

func TestPlanAWSVaultVariables(t *testing.T) {
	config := "[profile base]\nmfa_serial = arn:config\nbroker_session_duration = 4h\n" +
		"[profile a]\nsource_profile = base\nrole_arn = arn:a\nduration_seconds = 900\n" +
		"[profile b]\nsource_profile = a\nrole_arn = arn:b\n"
	env := map[string]string{"AWS_MFA_SERIAL": "arn:env", "AWS_ASSUME_ROLE_TTL": "2h",
		"AWS_SESSION_TOKEN_TTL": "1h", "AWS_CHAINED_SESSION_TOKEN_TTL": "12h"}
	b := planBroker(t, config, env)
	p, err := b.Plan("b")
	if err != nil {
		t.Fatal(err)
	}
	if p.MFASerial != "arn:env" || p.SessionDuration != 12*time.Hour || len(p.Roles) != 2 ||
		p.Roles[0].Duration != 2*time.Hour || p.Roles[1].Duration != time.Hour || p.Roles[1].Capped != 2*time.Hour {
		t.Errorf("role chain: %+v", p)
	}
	if p, err = b.Plan("base"); err != nil || p.SessionDuration != time.Hour || p.MFASerial != "arn:env" {
		t.Errorf("base: %+v, %v", p, err)
	}
	// aws-vault wants a unit, and so does broker.
	if _, err := planBroker(t, config, map[string]string{"AWS_ASSUME_ROLE_TTL": "3600"}).Plan("a"); err == nil {
		t.Error("AWS_ASSUME_ROLE_TTL without a unit was accepted")
	}
	for _, ttl := range []string{"-1h", "20m"} {
		if _, err := planBroker(t, config, map[string]string{"AWS_SESSION_TOKEN_TTL": ttl}).Plan("base"); err == nil {
			t.Errorf("AWS_SESSION_TOKEN_TTL=%s was accepted", ttl)
		}
	}
}
