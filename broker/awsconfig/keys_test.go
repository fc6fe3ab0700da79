package awsconfig

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseTags(t *testing.T) {
	tests := []struct {
		in   string
		want []Tag
		err  string
	}{
		{"team=infra", []Tag{{"team", "infra"}}, ""},
		{" team = infra , cost=42", []Tag{{"team", "infra"}, {"cost", "42"}}, ""},
		{"k=a=b", []Tag{{"k", "a=b"}}, ""},
		{"empty=", []Tag{{"empty", ""}}, ""},
		{"team", nil, "key1=value1"},
		{"a=1,,b=2", nil, "key1=value1"},
		{"=x", nil, "key1=value1"},
		{"Team=a,team=b", nil, "given twice"},
	}
	for _, tt := range tests {
		got, err := ParseTags(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTags(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseTags(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if got := ParseTagKeys(" a, ,b ,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("ParseTagKeys = %q", got)
	}
}

func TestKind(t *testing.T) {
	for key, want := range map[string]KeyKind{
		"region": KeyBroker, "broker_role_arn": KeyBroker, "broker_no_mfa": KeyBroker, "session_tags": KeyBroker,
		"broker_source_identity": KeyBroker, "services": KeyBroker, "endpoint_url": KeyBroker,
		"output": KeyTool, "cli_pager": KeyTool, "cli_timestamp_format": KeyTool, "s3": KeyTool, "retry_mode": KeyTool,
		"sso_start_url": KeyUnsupported, "web_identity_token_file": KeyUnsupported, "credential_source": KeyUnsupported,
		"sesion_tags": KeyUnknown, "broker_typo": KeyUnknown, "mfa_seral": KeyUnknown,
	} {
		if got := Kind(key); got != want {
			t.Errorf("Kind(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestProfileAWSVaultKeys(t *testing.T) {
	config := "[profile a]\nsource_identity = alice\nbroker_source_identity = user\nsession_tags = team=infra,cost=42\n" +
		"transitive_session_tags = team\nendpoint_url = http://127.0.0.1:4566\nservices = local\nignore_configured_endpoint_urls = true\n"
	for mode, parse := range parsers {
		f, err := parse(t, config)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.Profile("a")
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if p.SourceIdentity != "alice" || !p.SourceIdentityUser || !reflect.DeepEqual(p.SessionTags, []Tag{{"team", "infra"}, {"cost", "42"}}) ||
			!slices.Equal(p.TransitiveTagKeys, []string{"team"}) || p.EndpointURL != "http://127.0.0.1:4566" || p.Services != "local" || !p.IgnoreEndpointURLs {
			t.Errorf("%s: %+v", mode, p)
		}
	}
	for _, bad := range []struct{ config, msg string }{
		{"[profile a]\n\nbroker_source_identity = alice\n", "3: broker_source_identity: \"alice\" is not user"},
		{"[profile a]\nsession_tags = team\n", "2: session_tags: session tags must be written"},
		{"[profile a]\nsource_identity = alice smith\n", "2: source_identity: source identity \"alice smith\" may hold only"},
		{"[profile a]\nsource_identity = a\n", "2: source_identity: source identity \"a\" must be 2 to 64"},
		{"[profile a]\nbroker_source_identity =\n", "2: broker_source_identity: \"\" is not user or none"},
		{"[profile a]\nignore_configured_endpoint_urls = maybe\n", "2: ignore_configured_endpoint_urls"},
	} {
		_, err := mustParse(t, bad.config).Profile("a")
		if err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%q: err = %v, want %q", bad.config, err, bad.msg)
		}
	}
}

func TestProfileSourceIdentityNone(t *testing.T) {
	p, err := mustParse(t, "[profile a]\nbroker_source_identity = none\nsource_identity = a.b+c=d,e@f-g_h\n").Profile("a")
	if err != nil || !p.SourceIdentityNone || p.SourceIdentityUser || p.SourceIdentity != "a.b+c=d,e@f-g_h" {
		t.Errorf("%+v, %v", p, err)
	}
}

func TestServiceEndpoint(t *testing.T) {
	config := "[profile a]\nservices = local\n" +
		"[services local]\ns3 =\n  endpoint_url = http://s3.local\nsts =\n  region = x\n  Endpoint_URL = http://sts.local # comment\n" +
		"iam = \n\tendpoint_url=http://iam.local\n" +
		"[services other]\nsts =\n  endpoint_url = http://other\n" +
		"[profile b]\nsts = \n  endpoint_url = http://not-a-services-section\n"
	for mode, parse := range parsers {
		f, err := parse(t, config)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ section, service, want string }{
			{"local", "sts", "http://sts.local"}, {"local", "iam", "http://iam.local"}, {"local", "s3", "http://s3.local"},
			{"other", "sts", "http://other"}, {"local", "ec2", ""}, {"missing", "sts", ""}, {"", "sts", ""}, {"b", "sts", ""},
		} {
			got, err := f.ServiceEndpoint(tt.section, tt.service)
			if err != nil || got != tt.want {
				t.Errorf("%s: ServiceEndpoint(%q, %q) = %q, %v; want %q", mode, tt.section, tt.service, got, err, tt.want)
			}
		}
	}
	_, err := mustParse(t, "[services x]\nsts =\n  endpoint_url\n").ServiceEndpoint("x", "sts")
	if err == nil || !strings.Contains(err.Error(), ":3: ") {
		t.Errorf("a nested line without '=': err = %v, want a SyntaxError at line 3", err)
	}
}
