package awsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const brokerBin = "/usr/local/bin/broker"

var setupTests = []struct {
	name, profile, before, after string
	unsetup                      string // what Unsetup makes of after; before if empty
}{
	{
		name:    "role keys moved, everything else kept",
		profile: "dev",
		before: `# my config
[default]
region = us-east-1

[profile dev]  # dev account
region = eu-west-1
Source_Profile = default   ; base creds
role_arn=arn:aws:iam::1:role/dev
mfa_serial = arn:aws:iam::1:mfa/me
external_id = x
role_session_name = me
duration_seconds = 3600
# about prod

[profile prod]
role_arn = arn:prod
`,
		after: `# my config
[default]
region = us-east-1

[profile dev]  # dev account
region = eu-west-1
broker_Source_Profile = default   ; base creds
broker_role_arn=arn:aws:iam::1:role/dev
mfa_serial = arn:aws:iam::1:mfa/me
broker_external_id = x
broker_role_session_name = me
broker_duration_seconds = 3600
credential_process = /usr/local/bin/broker export dev
# about prod

[profile prod]
role_arn = arn:prod
`,
	},
	{
		name:    "new section at the end",
		profile: "dev",
		before:  "[default]\nregion = us-east-1\n",
		after:   "[default]\nregion = us-east-1\n\n[profile dev]\ncredential_process = /usr/local/bin/broker export dev\n",
		unsetup: "[default]\nregion = us-east-1\n\n[profile dev]\n",
	},
	{
		name:    "new default section, no final newline",
		profile: "default",
		before:  "[profile a]\nregion = x",
		after:   "[profile a]\nregion = x\n\n[default]\ncredential_process = /usr/local/bin/broker export default\n",
		unsetup: "[profile a]\nregion = x\n\n[default]\n",
	},
	{
		name:    "new section after a blank line",
		profile: "dev",
		before:  "[default]\n\n",
		after:   "[default]\n\n[profile dev]\ncredential_process = /usr/local/bin/broker export dev\n",
		unsetup: "[default]\n\n[profile dev]\n",
	},
	{
		name:    "empty file",
		profile: "dev",
		before:  "",
		after:   "[profile dev]\ncredential_process = /usr/local/bin/broker export dev\n",
		unsetup: "[profile dev]\n",
	},
	{
		name:    "broker_ key kept, plain dropped",
		profile: "dev",
		before:  "[profile dev]\nrole_arn = old\nbroker_role_arn = new\nregion = x\n",
		after:   "[profile dev]\nbroker_role_arn = new\nregion = x\ncredential_process = /usr/local/bin/broker export dev\n",
		unsetup: "[profile dev]\nrole_arn = new\nregion = x\n",
	},
	{
		name:    "broker line from elsewhere updated in place",
		profile: "dev",
		before:  "[profile dev]\ncredential_process = /opt/old/broker export dev # set up by broker\nregion = x\n",
		after:   "[profile dev]\ncredential_process = /usr/local/bin/broker export dev # set up by broker\nregion = x\n",
		unsetup: "[profile dev]\nregion = x\n",
	},
	{
		name:    "CRLF",
		profile: "dev",
		before:  "[default]\r\nregion = a\r\n\r\n[profile dev]\r\nrole_arn = r\r\n\r\n[profile x]\r\n",
		after:   "[default]\r\nregion = a\r\n\r\n[profile dev]\r\nbroker_role_arn = r\r\ncredential_process = /usr/local/bin/broker export dev\r\n\r\n[profile x]\r\n",
	},
	{
		name:    "CRLF new section",
		profile: "dev",
		before:  "[default]\r\nregion = a\r\n",
		after:   "[default]\r\nregion = a\r\n\r\n[profile dev]\r\ncredential_process = /usr/local/bin/broker export dev\r\n",
		unsetup: "[default]\r\nregion = a\r\n\r\n[profile dev]\r\n",
	},
	{
		name:    "last line without newline",
		profile: "dev",
		before:  "[profile dev]\nregion = x",
		after:   "[profile dev]\nregion = x\ncredential_process = /usr/local/bin/broker export dev",
		unsetup: "[profile dev]\nregion = x\n",
	},
	{
		name:    "header only, no newline",
		profile: "dev",
		before:  "[profile dev]",
		after:   "[profile dev]\ncredential_process = /usr/local/bin/broker export dev",
		unsetup: "[profile dev]\n",
	},
	{
		name:    "after nested block",
		profile: "dev",
		before:  "[profile dev]\ns3 =\n  addressing_style = path\n\n[profile b]\n",
		after:   "[profile dev]\ns3 =\n  addressing_style = path\ncredential_process = /usr/local/bin/broker export dev\n\n[profile b]\n",
	},
	{
		name:    "empty value with comment",
		profile: "dev",
		before:  "[profile dev]\ncredential_process =    # later\n",
		after:   "[profile dev]\ncredential_process = /usr/local/bin/broker export dev # later\n",
		unsetup: "[profile dev]\n",
	},
	{
		name:    "empty value with nested lines",
		profile: "dev",
		before:  "[profile dev]\ncredential_process =\n  junk = 1\nregion = x\n",
		after:   "[profile dev]\ncredential_process = /usr/local/bin/broker export dev\nregion = x\n",
		unsetup: "[profile dev]\nregion = x\n",
	},
	{
		name:    "role keys in the included profile are left alone",
		profile: "dev",
		before:  "[profile base]\nrole_arn = r\n[profile dev]\ninclude_profile = base\n",
		after:   "[profile base]\nrole_arn = r\n[profile dev]\ninclude_profile = base\ncredential_process = /usr/local/bin/broker export dev\n",
	},
	{
		name:    "same name in another section type",
		profile: "dev",
		before:  "[sso-session dev]\nsso_region = x\n[dev]\nrole_arn = y\n",
		after:   "[sso-session dev]\nsso_region = x\n[dev]\nrole_arn = y\n\n[profile dev]\ncredential_process = /usr/local/bin/broker export dev\n",
		unsetup: "[sso-session dev]\nsso_region = x\n[dev]\nrole_arn = y\n\n[profile dev]\n",
	},
}

func TestSetup(t *testing.T) {
	for _, tt := range setupTests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.before)
			changed, err := Setup(path, tt.profile, brokerBin, false)
			if err != nil || !changed {
				t.Fatalf("Setup = %v, %v", changed, err)
			}
			if got := readString(t, path); got != tt.after {
				t.Fatalf("after Setup:\n%s\nwant:\n%s", got, tt.after)
			}
			f, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if p, err := f.Profile(tt.profile); err != nil || p.CredentialProcess != brokerBin+" export "+tt.profile {
				t.Errorf("Profile = %+v, %v", p, err)
			}

			changed, err = Unsetup(path, tt.profile)
			if err != nil || !changed {
				t.Fatalf("Unsetup = %v, %v", changed, err)
			}
			want := tt.unsetup
			if want == "" {
				want = tt.before
			}
			if got := readString(t, path); got != want {
				t.Errorf("after Unsetup:\n%s\nwant:\n%s", got, want)
			}
			if changed, err := Unsetup(path, tt.profile); changed || err != nil {
				t.Errorf("second Unsetup = %v, %v", changed, err)
			}
		})
	}
}

func TestSetupIdempotent(t *testing.T) {
	path := writeConfig(t, setupTests[0].before)
	if _, err := Setup(path, "dev", brokerBin, false); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := Setup(path, "dev", brokerBin, false)
	if err != nil || changed {
		t.Fatalf("second Setup = %v, %v; want unchanged", changed, err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(past) {
		t.Error("second Setup rewrote the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "config" && e.Name() != ".config.broker.lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestSetupNewFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".aws")
	path := filepath.Join(dir, "config")
	changed, err := Setup(path, "dev", brokerBin, false)
	if err != nil || !changed {
		t.Fatalf("Setup = %v, %v", changed, err)
	}
	if got, want := readString(t, path), "[profile dev]\ncredential_process = /usr/local/bin/broker export dev\n"; got != want {
		t.Errorf("new file:\n%s\nwant:\n%s", got, want)
	}
	if runtime.GOOS == "windows" {
		return
	}
	checkMode(t, path, 0o600)
	checkMode(t, dir, 0o700)
}

func TestSetupKeepsMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	path := writeConfig(t, "[default]\n")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Setup(path, "dev", brokerBin, false); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path, 0o640)
}

func TestSetupFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles-config")
	if err := os.WriteFile(target, []byte("[default]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	if _, err := Setup(link, "dev", brokerBin, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
	if !strings.Contains(readString(t, target), "credential_process") {
		t.Error("the target was not edited")
	}
}

func TestSetupConflict(t *testing.T) {
	const before = "[profile dev]\ncredential_process = aws-vault export --format=json dev\n"
	path := writeConfig(t, before)
	changed, err := Setup(path, "dev", brokerBin, false)
	var ce *ConflictError
	if !errors.As(err, &ce) || changed || ce.Profile != "dev" || ce.Existing != "aws-vault export --format=json dev" {
		t.Fatalf("Setup = %v, %v; want *ConflictError", changed, err)
	}
	if strings.Contains(err.Error(), "aws-vault") {
		t.Errorf("error quotes the existing command: %v", err)
	}
	if readString(t, path) != before {
		t.Fatal("file changed on conflict")
	}
	if changed, err := Setup(path, "dev", brokerBin, true); err != nil || !changed {
		t.Fatalf("forced Setup = %v, %v", changed, err)
	}
	if got, want := readString(t, path), "[profile dev]\ncredential_process = /usr/local/bin/broker export dev\n"; got != want {
		t.Errorf("forced:\n%s\nwant:\n%s", got, want)
	}
}

func TestSetupQuotesPath(t *testing.T) {
	const bin = "/Users/me/My Tools/broker's bin/broker"
	path := writeConfig(t, "")
	if _, err := Setup(path, "dev", bin, false); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Profile("dev")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := splitArgs(p.CredentialProcess, windowsArgs); err != nil || len(got) != 3 || got[0] != bin || got[1] != "export" || got[2] != "dev" {
		t.Errorf("credential_process %q splits into %q, %v", p.CredentialProcess, got, err)
	}
	// The same broker, set up again, is recognised as broker's line.
	if changed, err := Setup(path, "dev", bin, false); changed || err != nil {
		t.Errorf("second Setup = %v, %v", changed, err)
	}
}

func TestSetupRefuses(t *testing.T) {
	tests := []struct{ name, config, profile, bin string }{
		{"relative broker path", "", "dev", "bin/broker"},
		{"newline in broker path", "", "dev", "/bin/bro\nker"},
		{"empty name", "", "", brokerBin},
		{"blank in name", "", "my dev", brokerBin},
		{"bracket in name", "", "dev]", brokerBin},
		{"quote in name", "", "o'dev", brokerBin},
		{"malformed file", "[default]\noops\n", "dev", brokerBin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.config)
			if changed, err := Setup(path, tt.profile, tt.bin, false); err == nil || changed {
				t.Errorf("Setup = %v, %v; want an error", changed, err)
			}
			if readString(t, path) != tt.config {
				t.Error("file changed")
			}
		})
	}
}

func TestUnsetupNothingToDo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if changed, err := Unsetup(path, "dev"); changed || err != nil {
		t.Errorf("Unsetup of missing file = %v, %v", changed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("Unsetup created the file")
	}
	const config = "[profile dev]\ncredential_process = aws-vault export dev\nrole_arn = r\n"
	path = writeConfig(t, config)
	if changed, err := Unsetup(path, "dev"); changed || err != nil || readString(t, path) != config {
		t.Errorf("Unsetup of a profile broker did not set up = %v, %v", changed, err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// TestSetupDuplicateSections: a profile with two sections is refused by
// Setup and SetValue, with both lines, and the file is left as it was
// (botocore refuses such a file; editing one of them reported success).
func TestSetupDuplicateSections(t *testing.T) {
	const before = "[profile dev]\nrole_arn = a\n[profile x]\n[profile dev]\nsource_profile = s\n"
	path := writeConfig(t, before)
	if changed, err := Setup(path, "dev", brokerBin, false); changed || err == nil || !strings.Contains(err.Error(), path+":4: a second section for profile \"dev\" (the first is at "+path+":1)") {
		t.Errorf("Setup = %v, %v", changed, err)
	}
	if changed, err := SetValue(path, "dev", "region", "eu-west-1"); changed || err == nil || !strings.Contains(err.Error(), ":4: a second section") {
		t.Errorf("SetValue = %v, %v", changed, err)
	}
	if got := readString(t, path); got != before {
		t.Errorf("the file changed:\n%s", got)
	}
	// Another profile of the file is still read and edited.
	if changed, err := SetValue(path, "x", "region", "eu-west-1"); !changed || err != nil {
		t.Errorf("SetValue x = %v, %v", changed, err)
	}
}
