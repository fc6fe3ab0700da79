package awsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProfileNames(t *testing.T) {
	tests := []struct {
		name, config string
		want         []string
	}{
		{"empty", "", []string{}},
		{"default and profiles", "[default]\nregion = a\n[profile dev]\n[profile prod]\n", []string{"default", "dev", "prod"}},
		{"file order", "[profile b]\n[profile a]\n[default]\n", []string{"b", "a", "default"}},
		{"other sections skipped", "[sso-session corp]\nsso_region = x\n[services s]\ns3 =\n  endpoint_url = http://x\n[profile dev]\n[plugins]\nx = y\n", []string{"dev"}},
		{"bare name is not a profile", "[dev]\nregion = x\n[profile dev2]\n", []string{"dev2"}},
		{"profile default is default", "[profile default]\n[default]\n", []string{"default"}},
		{"duplicates listed once", "[profile a]\n[profile b]\n[profile a]\n", []string{"a", "b"}},
		{"blanks around the name", "[profile   dev ]\n", []string{"dev"}},
		{"tab after profile", "[profile\tdev]\n", []string{"dev"}},
		{"profilex is another section", "[profiles]\n[profilex]\n", []string{}},
		{"comment after header", "[profile dev] # the dev account\n", []string{"dev"}},
		{"text after header ignored as botocore does", "[profile dev] junk\n", []string{"dev"}},
		{"indented header", "  [profile dev]\n", []string{"dev"}},
		{"header in nested block is a header", "[profile a]\ns3 =\n  x = 1\n[profile b]\n", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.config)
			if got := f.ProfileNames(); !slices.Equal(got, tt.want) {
				t.Errorf("ProfileNames() = %q, want %q", got, tt.want)
			}
			for _, n := range tt.want {
				if !f.Has(n) {
					t.Errorf("Has(%q) = false", n)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, config string
		line         int
		msg          string
	}{
		{"unterminated header", "[default]\n[profile dev\nregion = x\n", 2, "no closing ']'"},
		{"empty profile name", "[profile ]\n", 1, "empty profile name"},
		{"bare profile", "\n\n[profile]\n", 3, "empty profile name"},
		{"empty section", "[]\n", 1, "empty section name"},
		{"key before section", "# comment\nregion = us-east-1\n[default]\n", 2, `key "region" before any section header`},
		{"no equals", "[default]\nregion = x\nAKIAEXAMPLESECRET\n", 3, "not a [section] header, a comment, or key = value"},
		{"no key", "[default]\n= x\n", 2, "no key before '='"},
		{"indented line after key with value", "[default]\nregion = x\n  more\n", 3, "not a [section] header"},
		{"NUL byte", "[default]\nregion = x\x00\n", 2, "binary data (NUL byte)"},
		{"invalid UTF-8", "[default]\n\nregion = \xff\xfe\n", 3, "binary data (invalid UTF-8)"},
		{"byte order mark", "\ufeff[default]\n", 1, "byte order mark"},
		{"CRLF unterminated header", "[default]\r\n[profile dev\r\n", 2, "no closing ']'"},
		{"error in skipped section", "[profile a]\n[sso-session x]\noops\n", 3, "not a [section] header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for mode, parse := range parsers {
				_, err := parse(t, tt.config)
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("%s: err = %v, want *SyntaxError", mode, err)
				}
				if se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) {
					t.Errorf("%s: got line %d %q, want line %d containing %q", mode, se.Line, se.Msg, tt.line, tt.msg)
				}
				if want := se.Path + ":" + itoa(tt.line) + ": "; !strings.HasPrefix(err.Error(), want) || se.Path == "" {
					t.Errorf("%s: Error() = %q, want prefix %q", mode, err, want)
				}
				if strings.Contains(err.Error(), "AKIAEXAMPLESECRET") {
					t.Errorf("%s: error quotes the line: %v", mode, err)
				}
			}
		})
	}
}

func TestProfile(t *testing.T) {
	tests := []struct {
		name, config, profile string
		want                  Profile // Values checked only if set
	}{
		{
			name:    "fields",
			config:  "[profile dev]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::1:mfa/me\nmfa_process = ykman oath code\nsource_profile = base\nrole_arn = arn:aws:iam::2:role/dev\nexternal_id = ext\nrole_session_name = me\nduration_seconds = 900\nbroker_session_duration = 8h\nbroker_no_mfa = true\ncredential_process = /bin/broker export dev\n",
			profile: "dev",
			want: Profile{Name: "dev", Region: "eu-west-1", MFASerial: "arn:aws:iam::1:mfa/me", MFAProcess: "ykman oath code",
				SourceProfile: "base", RoleARN: "arn:aws:iam::2:role/dev", ExternalID: "ext", RoleSessionName: "me",
				RoleDuration: 900 * time.Second, SessionDuration: 8 * time.Hour, NoMFA: true, CredentialProcess: "/bin/broker export dev"},
		},
		{
			name:    "default",
			config:  "[default]\nregion=us-east-1\n",
			profile: "default",
			want:    Profile{Name: "default", Region: "us-east-1", Values: map[string]string{"region": "us-east-1"}},
		},
		{
			name:    "whitespace, case of keys, values as written",
			config:  "[profile a]\n  Region\t=  us-east-1  \nOUTPUT=json\nx = A b  C\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "us-east-1", Values: map[string]string{"region": "us-east-1", "output": "json", "x": "A b  C"}},
		},
		{
			name:    "inline comments",
			config:  "[profile a]\nregion = us-east-1 # where\nrole_arn = arn:x;not-a-comment\nexternal_id = a#b\nmfa_serial = s\t; tab before\nrole_session_name = # nothing\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "us-east-1", RoleARN: "arn:x;not-a-comment", ExternalID: "a#b", MFASerial: "s"},
		},
		{
			name:    "comments and blank lines",
			config:  "# top\n; also\n[profile a]\n\n  # indented comment\n\t; tab comment\nregion = x\n\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "x", Values: map[string]string{"region": "x"}},
		},
		{
			name:    "CRLF",
			config:  "[default]\r\nregion = us-east-1\r\n\r\n[profile a]\r\nregion = eu-west-1 \r\nrole_arn = r\r\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "eu-west-1", RoleARN: "r", Values: map[string]string{"region": "eu-west-1", "role_arn": "r"}},
		},
		{
			name:    "nested continuation section",
			config:  "[profile a]\ns3 =\n  max_concurrent_requests = 10\n\n  addressing_style = path\nregion = x\napi_versions =\n\tec2 = 2015-03-01\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "x", Values: map[string]string{"s3": "", "region": "x", "api_versions": ""}},
		},
		{
			name:    "nested block does not set fields",
			config:  "[profile a]\nregion =\n  us-east-1\n",
			profile: "a",
			want:    Profile{Name: "a", Values: map[string]string{"region": ""}},
		},
		{
			name:    "indented key after a value is a key",
			config:  "[profile a]\nregion = x\n  output = json\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "x", Values: map[string]string{"region": "x", "output": "json"}},
		},
		{
			// botocore's configparser and aws-sdk-go-v2 read ':' as '=', the first one wins.
			name:    "colon delimiter",
			config:  "[profile a]\nregion: x\nmfa_serial = arn:aws:iam::123456789012:mfa/a\nrole_arn:arn:aws:iam::123456789012:role/r=1\n",
			profile: "a",
			want: Profile{Name: "a", Region: "x", MFASerial: "arn:aws:iam::123456789012:mfa/a", RoleARN: "arn:aws:iam::123456789012:role/r=1",
				Values: map[string]string{"region": "x", "mfa_serial": "arn:aws:iam::123456789012:mfa/a", "role_arn": "arn:aws:iam::123456789012:role/r=1"}},
		},
		{
			name:    "duplicate keys, later wins",
			config:  "[profile a]\nregion = x\nregion = y\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "y"},
		},
		{
			name:    "broker_ prefix wins",
			config:  "[profile a]\nbroker_role_arn = new\nrole_arn = old\nsource_profile = s\nbroker_duration_seconds = 3600\nduration_seconds = x\nbroker_region = r2\nregion = r1\n",
			profile: "a",
			want:    Profile{Name: "a", RoleARN: "new", SourceProfile: "s", RoleDuration: time.Hour, Region: "r2"},
		},
		{
			name:    "include_profile gives defaults",
			config:  "[profile base]\nregion = base-region\nmfa_serial = m\nrole_arn = base-role\n[profile a]\ninclude_profile = base\nrole_arn = own-role\n",
			profile: "a",
			want: Profile{Name: "a", Region: "base-region", MFASerial: "m", RoleARN: "own-role",
				Values: map[string]string{"include_profile": "base", "region": "base-region", "mfa_serial": "m", "role_arn": "own-role"}},
		},
		{
			name:    "include_profile chain",
			config:  "[profile c]\nregion = c\nmfa_serial = c\nexternal_id = c\n[profile b]\ninclude_profile = c\nmfa_serial = b\n[profile a]\ninclude_profile = b\nexternal_id = a\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "c", MFASerial: "b", ExternalID: "a"},
		},
		{
			name:    "own plain key beats included broker_ key",
			config:  "[profile base]\nbroker_role_arn = base\n[profile a]\ninclude_profile = base\nrole_arn = own\n",
			profile: "a",
			want:    Profile{Name: "a", RoleARN: "own"},
		},
		{
			name:    "included default",
			config:  "[default]\nregion = d\n[profile a]\ninclude_profile = default\n",
			profile: "a",
			want:    Profile{Name: "a", Region: "d"},
		},
		{
			name:    "session duration in seconds",
			config:  "[profile a]\nbroker_session_duration = 43200\nbroker_no_mfa = false\n",
			profile: "a",
			want:    Profile{Name: "a", SessionDuration: 12 * time.Hour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for mode, parse := range parsers {
				f, err := parse(t, tt.config)
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.Profile(tt.profile)
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if tt.want.Values == nil {
					got.Values = nil
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s:\n got %+v\nwant %+v", mode, got, tt.want)
				}
			}
		})
	}
}

func TestProfileErrors(t *testing.T) {
	tests := []struct {
		name, config, profile string
		check                 func(error) string // "" if err is as expected
	}{
		{"not found", "[profile a]\n[dev]\n", "dev", notFound(`profile "dev": profile not found`)},
		{"case matters", "[profile Dev]\n", "dev", notFound(`profile "dev": profile not found`)},
		{"include not found", "[profile a]\ninclude_profile = gone\n", "a", notFound(`profile "gone" (include_profile of "a"): profile not found`)},
		{"self include", "[profile a]\ninclude_profile = a\n", "a", loop("include_profile loop: a -> a")},
		{"loop", "[profile a]\ninclude_profile = b\n[profile b]\ninclude_profile = c\n[profile c]\ninclude_profile = b\n", "a", loop("include_profile loop: a -> b -> c -> b")},
		{"bad duration_seconds", "[profile a]\nregion = x\nduration_seconds = 1h\n", "a", syntax(3, `duration_seconds: "1h" is not a positive whole number of seconds`)},
		{"negative duration_seconds", "[profile a]\nduration_seconds = -5\n", "a", syntax(2, "duration_seconds")},
		{"zero duration_seconds", "[profile a]\nduration_seconds = 0\n", "a", syntax(2, "duration_seconds")},
		{"overflowing duration_seconds", "[profile a]\nduration_seconds = 99999999999999999\n", "a", syntax(2, "duration_seconds")},
		{"bad broker_duration_seconds", "\n[profile a]\nbroker_duration_seconds = soon\n", "a", syntax(3, "broker_duration_seconds:")},
		{"bad session duration", "[profile a]\n\n\nbroker_session_duration = 8 hours\n", "a", syntax(4, `broker_session_duration: "8 hours" is not a positive duration`)},
		{"negative session duration", "[profile a]\nbroker_session_duration = -1h\n", "a", syntax(2, "broker_session_duration")},
		{"bad no_mfa", "[profile a]\nbroker_no_mfa = sure\n", "a", syntax(2, `broker_no_mfa: "sure" is not true or false`)},
		{"bad duration in included profile", "[profile base]\nduration_seconds = x\n[profile a]\ninclude_profile = base\n", "a", syntax(2, "duration_seconds")},
		{"duplicate section", "[profile a]\n[profile b]\n[profile a]\n\nduration_seconds = x\n", "a", syntax(3, `a second section for profile "a" (the first is at `)},
		{"duplicate [default]", "[default]\nregion = x\n[default]\n", "default", syntax(3, "a second section")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for mode, parse := range parsers {
				f, err := parse(t, tt.config)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.Profile(tt.profile)
				if msg := tt.check(err); msg != "" {
					t.Errorf("%s: %s", mode, msg)
				}
			}
		})
	}
}

func notFound(want string) func(error) string {
	return func(err error) string {
		if !errors.Is(err, ErrProfileNotFound) || err.Error() != want {
			return "err = " + errString(err) + ", want " + want
		}
		return ""
	}
}

func loop(want string) func(error) string {
	return func(err error) string {
		var le *LoopError
		if !errors.As(err, &le) || le.Key != "include_profile" || err.Error() != want {
			return "err = " + errString(err) + ", want *LoopError " + want
		}
		return ""
	}
}

func syntax(line int, msg string) func(error) string {
	return func(err error) string {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != line || !strings.Contains(se.Msg, msg) || se.Path == "" {
			return "err = " + errString(err) + ", want *SyntaxError at line " + itoa(line) + " containing " + msg
		}
		return ""
	}
}

func TestLoopErrorKey(t *testing.T) {
	err := &LoopError{Chain: []string{"a", "b", "a"}, Key: "source_profile"}
	if got, want := err.Error(), "source_profile loop: a -> b -> a"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// A config like those aws-vault users have.
const awsVaultConfig = `# managed by hand
[default]
region = us-east-1
output = json

[profile jonsmith]
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith
credential_process = aws-vault export --format=json jonsmith

[profile foo-readonly]
source_profile = jonsmith
role_arn = arn:aws:iam::22222222222:role/ReadOnly
include_profile = base

[profile foo-admin]
source_profile = jonsmith
role_arn = arn:aws:iam::22222222222:role/Administrator
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith
duration_seconds = 3600
role_session_name = jon

[profile base]
region = eu-west-2
s3 =
  max_concurrent_requests = 20
  addressing_style = path

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile sso-dev]
sso_session = corp
sso_account_id = 333333333333
sso_role_name = Developer

[services local-s3]
s3 =
  endpoint_url = http://localhost:9000
`

func TestAWSVaultConfig(t *testing.T) {
	for mode, parse := range parsers {
		f, err := parse(t, awsVaultConfig)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"default", "jonsmith", "foo-readonly", "foo-admin", "base", "sso-dev"}
		if got := f.ProfileNames(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ProfileNames() = %q, want %q", mode, got, want)
		}
		p, err := f.Profile("foo-readonly")
		if err != nil {
			t.Fatal(err)
		}
		if p.Region != "eu-west-2" || p.SourceProfile != "jonsmith" || p.RoleARN != "arn:aws:iam::22222222222:role/ReadOnly" || p.MFASerial != "" {
			t.Errorf("%s: foo-readonly = %+v", mode, p)
		}
		p, err = f.Profile("foo-admin")
		if err != nil {
			t.Fatal(err)
		}
		if p.RoleDuration != time.Hour || p.RoleSessionName != "jon" || p.Region != "" {
			t.Errorf("%s: foo-admin = %+v", mode, p)
		}
		if p, _ := f.Profile("jonsmith"); p.CredentialProcess != "aws-vault export --format=json jonsmith" {
			t.Errorf("%s: jonsmith = %+v", mode, p)
		}
		if p, _ := f.Profile("sso-dev"); p.Values["sso_session"] != "corp" {
			t.Errorf("%s: sso-dev = %+v", mode, p)
		}
		if f.Has("corp") || f.Has("local-s3") || f.Has("nope") {
			t.Errorf("%s: Has reports a section that is not a profile", mode)
		}
	}
}

// parsers run each parsing test twice: on a File that Load streamed from
// disk, and on one that Parse made from memory.
var parsers = map[string]func(*testing.T, string) (*File, error){
	"Load": func(t *testing.T, config string) (*File, error) {
		return Load(writeConfig(t, config))
	},
	"Parse": func(t *testing.T, config string) (*File, error) {
		return Parse("/home/me/.aws/config", []byte(config))
	},
}

func mustParse(t *testing.T, config string) *File {
	t.Helper()
	f, err := Load(writeConfig(t, config))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func writeConfig(t testing.TB, config string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func itoa(i int) string { return strconv.Itoa(i) }
