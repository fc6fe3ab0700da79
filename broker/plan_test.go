package broker

import (
	"errors"
	"reflect"
	"strings"
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

func TestPlanSessionTagsAlongTheChain(t *testing.T) {
	const base = "[profile base]\nmfa_serial = arn:m\n" +
		"[profile r1]\nsource_profile = base\nrole_arn = arn:r1\n" +
		"[profile r2]\nsource_profile = r1\nrole_arn = arn:r2\n"
	tags := func(kv ...string) []awsconfig.Tag {
		var out []awsconfig.Tag
		for i := 0; i < len(kv); i += 2 {
			out = append(out, awsconfig.Tag{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name, config string
		env          map[string]string
		r1, r2       []awsconfig.Tag
		k1, k2       []string
		err          string
	}{
		{name: "[default]'s on every role, its transitive one only where it starts",
			config: "[default]\nsession_tags = team=infra,cost=42\ntransitive_session_tags = team\n" + base,
			r1:     tags("team", "infra", "cost", "42"), k1: []string{"team"}, r2: tags("cost", "42")},
		{name: "a profile's own tags, and [default]'s transitive key naming none of them",
			config: "[default]\nsession_tags = team=infra\ntransitive_session_tags = team\n" + base + "session_tags = k=v\n",
			r1:     tags("team", "infra"), k1: []string{"team"}, r2: tags("k", "v")},
		{name: "r2's own tags where nothing is inherited",
			config: "[default]\ntransitive_session_tags = team\n" + base + "session_tags = k=v\n",
			r2:     tags("k", "v")},
		{name: "r2 setting a tag r1 made transitive",
			config: base[:strings.Index(base, "[profile r2]")] + "session_tags = team=a\ntransitive_session_tags = team\n" +
				base[strings.Index(base, "[profile r2]"):] + "session_tags = Team=b\n",
			err: `session_tags of profile "r2" sets Team, which profile "r1"'s role already made transitive`},
		{name: "AWS_SESSION_TAGS setting an inherited transitive tag",
			config: "[default]\nsession_tags = team=infra\ntransitive_session_tags = team\n" + base,
			env:    map[string]string{"AWS_SESSION_TAGS": "team=other"},
			err:    `AWS_SESSION_TAGS of profile "r2" sets team`},
		{name: "AWS_SESSION_TAGS replacing the tags a profile's transitive key names",
			config: base + "session_tags = team=a,k=v\ntransitive_session_tags = team,k\n",
			env:    map[string]string{"AWS_SESSION_TAGS": "k=w"},
			r2:     tags("k", "w"), k2: []string{"k"}},
		{name: "a profile's transitive key naming no tag",
			config: base + "session_tags = k=v\ntransitive_session_tags = nosuch\n",
			err:    `transitive_session_tags of profile "r2" names nosuch, which is not one of the session tags`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planBroker(t, tt.config, tt.env).Plan("r2")
			if tt.err != "" {
				var te *TagError
				if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want a TagError with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Roles) != 2 {
				t.Fatalf("roles %+v", p.Roles)
			}
			r1, r2 := p.Roles[0], p.Roles[1]
			if !reflect.DeepEqual(r1.Tags, tt.r1) || !reflect.DeepEqual(r1.TransitiveTagKeys, tt.k1) ||
				!reflect.DeepEqual(r2.Tags, tt.r2) || !reflect.DeepEqual(r2.TransitiveTagKeys, tt.k2) {
				t.Errorf("r1 %v %v, r2 %v %v; want r1 %v %v, r2 %v %v", r1.Tags, r1.TransitiveTagKeys, r2.Tags, r2.TransitiveTagKeys,
					tt.r1, tt.k1, tt.r2, tt.k2)
			}
		})
	}
}

func TestPlanSourceIdentity(t *testing.T) {
	config := "[default]\nbroker_source_identity = user\n[profile base]\nmfa_serial = arn:m\n" +
		"[profile inherits]\nsource_profile = base\nrole_arn = arn:a\n" +
		"[profile off]\nsource_profile = base\nrole_arn = arn:b\nbroker_source_identity = none\nsource_identity = ignored\n" +
		"[profile fixed]\nsource_profile = base\nrole_arn = arn:c\nsource_identity = alice@example.com\n"
	b := planBroker(t, config, nil)
	for name, want := range map[string]Role{
		"inherits": {SourceIdentityUser: true},
		"off":      {},
		"fixed":    {SourceIdentity: "alice@example.com"},
	} {
		p, err := b.Plan(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := p.Roles[0]; r.SourceIdentity != want.SourceIdentity || r.SourceIdentityUser != want.SourceIdentityUser {
			t.Errorf("%s: source identity %q, user %v; want %q, %v", name, r.SourceIdentity, r.SourceIdentityUser, want.SourceIdentity, want.SourceIdentityUser)
		}
	}
	for _, bad := range []string{"alice smith", "a", strings.Repeat("x", 65)} {
		_, err := planBroker(t, config, map[string]string{"AWS_SOURCE_IDENTITY": bad}).Plan("fixed")
		if err == nil || !strings.Contains(err.Error(), "AWS_SOURCE_IDENTITY: source identity") {
			t.Errorf("AWS_SOURCE_IDENTITY=%q: err = %v", bad, err)
		}
	}
}

func TestPlanMFAFrom(t *testing.T) {
	config := "[default]\nmfa_serial = arn:default\n[profile base]\n[profile own]\nmfa_serial = arn:own\n" +
		"[profile role]\nsource_profile = own\nrole_arn = arn:r\n"
	b := planBroker(t, config, nil)
	for name, want := range map[string]string{"base": "default", "own": "own", "role": "own"} {
		if p, err := b.Plan(name); err != nil || p.MFAFrom != want {
			t.Errorf("%s: MFAFrom %q, %v; want %q", name, p.MFAFrom, err, want)
		}
	}
	b = planBroker(t, config, map[string]string{"AWS_MFA_SERIAL": "arn:env"})
	if p, err := b.Plan("own"); err != nil || p.MFAFrom != "AWS_MFA_SERIAL" {
		t.Errorf("with AWS_MFA_SERIAL: MFAFrom %q, %v", p.MFAFrom, err)
	}
}

func TestPlanParentProfile(t *testing.T) {
	config := "[profile shared]\nmfa_serial = arn:m\n[profile base]\nparent_profile = shared\n" +
		"[profile role]\nsource_profile = base\nrole_arn = arn:r\n"
	b := planBroker(t, config, nil)
	for _, name := range []string{"base", "role"} {
		var pe *ParentProfileError
		if _, err := b.Plan(name); !errors.As(err, &pe) || pe.Profile != "base" || !strings.Contains(err.Error(), "rename it include_profile") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
