//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Commands as people type them: flags after PROFILE, `--`, mistakes, help.

// usageFailure checks a refused command line: exit 2, nothing on stdout,
// one broker: line naming what was wrong (and at most a hint).
func usageFailure(t *testing.T, w *world, naming string, args ...string) {
	t.Helper()
	out, errOut, code := w.broker(args...)
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	if code != 2 || out != "" || !strings.HasPrefix(lines[0], "broker: ") || !strings.Contains(lines[0], naming) ||
		len(lines) > 2 || len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ") {
		t.Errorf("broker %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming %q",
			strings.Join(args, " "), code, out, errOut, naming)
	}
}

// TestFlagsAfterProfile runs every command with its flags after PROFILE
// (and its other arguments), as the README shows them.
func TestFlagsAfterProfile(t *testing.T) {
	w, u := setupDev(t)

	if out := w.mustBroker("export", "dev", "--format", "env"); !strings.Contains(out, "export AWS_SESSION_TOKEN='") {
		t.Errorf("export dev --format env printed %q", out)
	}
	if out := w.mustBroker("export", "dev", "--format=json", "--debug"); decodeExport(t, out).Version != 1 {
		t.Error("export dev --format=json --debug")
	}
	if rows := decodeList(w.mustBroker("list", "--json")); len(rows) == 0 {
		t.Error("list --json printed no rows")
	}
	var keys struct {
		Keys []struct{ ID string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(w.mustBroker("keys", "dev", "--json")), &keys); err != nil || len(keys.Keys) != 1 {
		t.Errorf("keys dev --json: %v, %+v", err, keys)
	}
	w.mustBroker("setup", "dev", "--force")

	// exec: broker's flags before `--`, the command's after it.
	r := w.cmd(nil, brokerBin, "exec", "dev", "--server", "--", "sh", "-c", `test -n "$AWS_CONTAINER_CREDENTIALS_FULL_URI" && test -z "$AWS_SESSION_TOKEN"`)
	if r.code != 0 {
		t.Errorf("exec dev --server -- sh: exit %d: %s", r.code, r.stderr)
	}

	// add: a second profile from the environment.
	bob := w.newUser("bob")
	r = w.cmd([]string{"AWS_ACCESS_KEY_ID=" + bob.keyID, "AWS_SECRET_ACCESS_KEY=" + bob.secret},
		brokerBin, "add", "bob", "--env", "--mfa-serial", bob.serial)
	if r.code != 0 {
		t.Fatalf("add bob --env --mfa-serial: exit %d: %s", r.code, r.stderr)
	}
	w.mustBroker("clear", "bob", "--debug")
	w.mustBroker("remove", "bob", "--yes")
	if slicesContains(profilesWithKeys(w.mustBroker("list", "--json")), "bob") {
		t.Error("remove bob --yes left bob's key")
	}

	// The key lifecycle, flags last.
	w.mustBroker("rotate", "dev", "--yes", "--keep-old")
	if got := w.aws.AccessKeys(t, "alice"); got[u.keyID] != "Inactive" {
		t.Errorf("rotate dev --yes --keep-old left the old key %q", got[u.keyID])
	}
	w.mustBroker("keys", "delete", "dev", u.keyID, "--yes")
	if got := w.aws.AccessKeys(t, "alice"); got[u.keyID] != "" {
		t.Errorf("keys delete dev KEY --yes left the key %q", got[u.keyID])
	}
	w.mustBroker("revoke", "dev", "--yes")

	// audit and completion take other arguments than PROFILE.
	clean := filepath.Join(w.root, "clean.txt")
	os.WriteFile(clean, []byte("nothing here\n"), 0o600)
	if r := w.cmd(nil, brokerBin, "audit", clean, "--offline", "--json"); r.code != 0 || !json.Valid([]byte(r.stdout)) {
		t.Errorf("audit PATH --offline --json: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if out := w.mustBroker("completion", "bash", "--debug"); !strings.Contains(out, "complete -o default -F _broker_complete broker") {
		t.Errorf("completion bash printed %q", out)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestLoginFlagsAfterProfile: login dev --stdout --path PATH.
func TestLoginFlagsAfterProfile(t *testing.T) {
	w, _ := setupDev(t)
	fed := newFakeFederation(t)
	r := w.cmd(fed.env(), brokerBin, "login", "dev", "--stdout", "--path", "s3/home")
	if r.code != 0 || !strings.Contains(r.stdout, "SigninToken="+fed.token) || !strings.Contains(r.stdout, "s3%2Fhome") {
		t.Errorf("login dev --stdout --path s3/home: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

// TestExecCommandLine: after `--` (or from COMMAND on) every word is the
// command's, however much it looks like one of broker's flags.
func TestExecCommandLine(t *testing.T) {
	w, _ := setupDev(t)
	want := "--yes\n--format\njson\n"
	for _, args := range [][]string{
		{"exec", "dev", "--", "printf", `%s\n`, "--yes", "--format", "json"},
		{"exec", "dev", "printf", `%s\n`, "--yes", "--format", "json"},
		{"exec", "--debug", "dev", "--", "printf", `%s\n`, "--yes", "--format", "json"},
		{"exec", "dev", "--server", "--", "printf", `%s\n`, "--yes", "--format", "json"},
	} {
		r := w.cmd(nil, brokerBin, args...)
		if r.code != 0 || r.stdout != want {
			t.Errorf("broker %s: exit %d, stdout %q (want %q), stderr %s", strings.Join(args, " "), r.code, r.stdout, want, r.stderr)
		}
	}
}

// TestExecNotRunnable: exit statuses as a shell's, one line, and no MFA
// code asked for a command that cannot run.
func TestExecNotRunnable(t *testing.T) {
	w, _ := setupDev(t)
	plain := filepath.Join(w.root, "plain.sh")
	os.WriteFile(plain, []byte("#!/bin/sh\necho hi\n"), 0o600)
	bin := filepath.Join(w.root, "bin")
	os.Mkdir(bin, 0o700)
	os.WriteFile(filepath.Join(bin, "notexec"), []byte("#!/bin/sh\n"), 0o644)
	badInterp := filepath.Join(w.root, "bad-interp")
	os.WriteFile(badInterp, []byte("#!/nonexistent/interpreter\n"), 0o700)
	path := []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	for _, tt := range []struct {
		cmd    string
		code   int
		naming string
	}{
		{"nosuchcmd", 127, "nosuchcmd: command not found"},
		{"./nosuchfile", 127, "./nosuchfile: no such file"},
		{plain, 126, "not executable"},
		{w.root, 126, "is a directory"},
		{"notexec", 126, "it is not executable"},
	} {
		r := w.cmd(path, brokerBin, "exec", "dev", "--", tt.cmd)
		if r.code != tt.code || r.stdout != "" || r.stderr != "broker: "+strings.TrimPrefix(r.stderr, "broker: ") ||
			strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.naming) {
			t.Errorf("exec dev -- %s: exit %d (want %d), stdout %q, stderr %q (want one line naming %q)",
				tt.cmd, r.code, tt.code, r.stdout, r.stderr, tt.naming)
		}
	}
	if n := w.mfaAsks(); n != 0 {
		t.Errorf("%d MFA codes asked for commands that cannot run", n)
	}
	// The kernel refuses an interpreter that is not there: 127, as bash.
	r := w.cmd(nil, brokerBin, "exec", "dev", "--", badInterp)
	if r.code != 127 || !strings.HasPrefix(r.stderr, "broker: ") {
		t.Errorf("exec of a script with a missing interpreter: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestExecShellSaysWhatItHolds: `broker exec dev` with no command says on
// stderr whose session the shell has and until when.
func TestExecShellSaysWhatItHolds(t *testing.T) {
	w, _ := setupDev(t)
	shell := filepath.Join(w.root, "fake-shell")
	os.WriteFile(shell, []byte("#!/bin/sh\necho \"shell for $BROKER_PROFILE\"\n"), 0o700)
	r := w.cmd([]string{"SHELL=" + shell}, brokerBin, "exec", "dev")
	exp := decodeExport(t, w.mustBroker("export", "dev")).Expiration
	if r.code != 0 || r.stdout != "shell for dev\n" {
		t.Fatalf("exec dev: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Starting " + shell, `profile "dev"`, "valid until " + exp, "BROKER_PROFILE=dev"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("exec dev said %q; want it to say %q", r.stderr, want)
		}
	}
}

// TestMistakes: unknown flags anywhere and mistyped commands are refused
// with one line naming them, exit 2, and nothing changed.
func TestMistakes(t *testing.T) {
	w, _ := setupDev(t)
	config, _ := os.ReadFile(w.config)
	before := w.mustBroker("list", "--json")
	usageFailure(t, w, "unknown flag --frobnicate", "rotate", "dev", "--frobnicate")
	usageFailure(t, w, "unknown flag --frobnicate", "rotate", "--frobnicate", "dev")
	usageFailure(t, w, "unknown flag --frobnicate", "--frobnicate", "rotate", "dev")
	usageFailure(t, w, "unknown flag --yes", "export", "dev", "--yes")
	usageFailure(t, w, "unknown flag --forse", "remove", "dev", "--yes", "--forse")
	usageFailure(t, w, "unknown flag --jsno", "keys", "dev", "--jsno")
	usageFailure(t, w, "unknown flag --verbose", "keys", "deactivate", "dev", "AKIA0TESTTESTTESTTES", "--verbose")
	usageFailure(t, w, "unknown flag -x", "exec", "-x", "dev", "--", "true")
	usageFailure(t, w, "flag --format needs a value", "export", "dev", "--format")
	usageFailure(t, w, "unknown command 'rotat'; did you mean 'rotate'?", "rotat", "dev")
	usageFailure(t, w, "unknown command 'frobnicate'", "frobnicate")
	usageFailure(t, w, "unknown command 'rotat'", "help", "rotat")
	usageFailure(t, w, "rotate takes one PROFILE argument", "rotate", "dev", "other")
	usageFailure(t, w, "unknown --format \"yaml\"", "export", "dev", "--format", "yaml")

	_, errOut, _ := w.broker("rotat", "dev")
	if !strings.Contains(errOut, "hint: `broker help` lists the commands") {
		t.Errorf("a typo gets no hint: %q", errOut)
	}
	if after, _ := os.ReadFile(w.config); string(after) != string(config) {
		t.Errorf("a refused command line changed the config")
	}
	if after := w.mustBroker("list", "--json"); after != before {
		t.Errorf("a refused command line changed the keychain:\n%s\nthen\n%s", before, after)
	}
	if n := len(w.calls("UpdateAccessKey")) + len(w.calls("CreateAccessKey")); n != 0 {
		t.Errorf("a refused command line made %d IAM changes", n)
	}
}

// TestHelpCommand: `broker help`, `broker help COMMAND`, `broker COMMAND
// --help` and help for subcommands, on stdout.
func TestHelpCommand(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"USAGE:", "rotate", "broker help COMMAND"}},
		{[]string{}, []string{"USAGE:", "rotate"}},
		{[]string{"help", "export"}, []string{"broker export", "--format", "--mfa-token"}},
		{[]string{"help", "export", "dev"}, []string{"broker export", "--format"}},
		{[]string{"export", "--help"}, []string{"broker export", "--format"}},
		{[]string{"export", "dev", "--help"}, []string{"broker export", "--format"}},
		{[]string{"help", "keys"}, []string{"broker keys", "activate", "deactivate", "--json"}},
		{[]string{"keys", "help"}, []string{"broker keys", "activate"}},
		{[]string{"help", "keys", "delete"}, []string{"broker keys delete", "PROFILE KEY_ID", "--force"}},
		{[]string{"help", "exec"}, []string{"broker exec", "--server", "everything from COMMAND on"}},
		{[]string{"help", "setup"}, []string{"--region", "--force"}},
	} {
		out, errOut, code := w.broker(tt.args...)
		if code != 0 || errOut != "" {
			t.Errorf("broker %s: exit %d, stderr %q", strings.Join(tt.args, " "), code, errOut)
		}
		for _, want := range tt.want {
			if !strings.Contains(out, want) {
				t.Errorf("broker %s printed no %q:\n%s", strings.Join(tt.args, " "), want, out)
			}
		}
	}
}

// TestCompletion runs bash's completion function from `broker completion
// bash` and asks the binary what zsh and fish would.
func TestCompletion(t *testing.T) {
	w, _ := setupDev(t)
	script := filepath.Join(w.root, "completion.bash")
	os.WriteFile(script, []byte(w.mustBroker("completion", "bash")), 0o600)
	bin := filepath.Dir(brokerBin)
	complete := func(words ...string) []string {
		t.Helper()
		var quoted []string
		for _, word := range words {
			quoted = append(quoted, "'"+word+"'")
		}
		sh := fmt.Sprintf(`. %s; COMP_WORDS=(%s); COMP_CWORD=%d; _broker_complete; printf '%%s\n' "${COMPREPLY[@]}"`,
			script, strings.Join(quoted, " "), len(words)-1)
		r := w.cmd([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "bash", "-c", sh)
		if r.code != 0 {
			t.Fatalf("bash completion: exit %d: %s", r.code, r.stderr)
		}
		return strings.Fields(r.stdout)
	}
	// Other commands and flags may come; these must be among the candidates,
	// and nothing else where the list is exact.
	for _, tt := range []struct {
		words []string
		want  string
		exact bool
	}{
		{[]string{"broker", "rot"}, "rotate", true},
		{[]string{"broker", ""}, "add audit clear completion exec export help import keys list login ls remove revoke rm rotate setup", false},
		{[]string{"broker", "export", ""}, "dev other", true},
		{[]string{"broker", "export", "d"}, "dev", true},
		{[]string{"broker", "export", "dev", ""}, "", true},
		{[]string{"broker", "export", "dev", "--f"}, "--format", true},
		{[]string{"broker", "export", "dev", "--format", ""}, "", true},
		{[]string{"broker", "export", "dev", "--"}, "--debug --format --help --mfa-token --version", false},
		{[]string{"broker", "rotate", "dev", "--"}, "--debug --delete-inactive --help --keep-old --mfa-token --yes", false},
		{[]string{"broker", "keys", ""}, "activate deactivate delete dev other", false},
		{[]string{"broker", "keys", "delete", ""}, "dev other", true},
		{[]string{"broker", "keys", "delete", "dev", "--f"}, "--force", false},
		{[]string{"broker", "completion", ""}, "bash fish zsh", true},
		{[]string{"broker", "help", "ro"}, "rotate", true},
		{[]string{"broker", "exec", "dev", "--s"}, "--server", true},
	} {
		got := complete(tt.words...)
		want := strings.Fields(tt.want)
		ok := !tt.exact || len(got) == len(want)
		for _, c := range want {
			ok = ok && slicesContains(got, c)
		}
		if !ok {
			t.Errorf("completing %q gave %q, want %q", tt.words, got, tt.want)
		}
	}
	// zsh and fish scripts run the same protocol: all words, the current last.
	for _, shell := range []string{"zsh", "fish"} {
		if out := w.mustBroker("completion", shell); !strings.Contains(out, completionFlag) {
			t.Errorf("completion %s does not ask broker: %s", shell, out)
		}
		if _, err := exec.LookPath(shell); err == nil {
			t.Logf("%s is installed but not driven by this test", shell)
		}
	}
}

// TestSetupRegion: the AWS CLI needs a region; a profile without one gets
// the default (said so), or the one given.
func TestSetupRegion(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig(fmt.Sprintf("[profile dev]\nmfa_serial = %s\nmfa_process = %s\n", u.serial, w.mfaProcess("123456")))
	w.addKey("dev", u)
	_, errOut, code := w.broker("setup", "dev")
	if code != 0 || !strings.Contains(errOut, `Set region = us-east-1 for profile "dev": the AWS CLI needs one`) {
		t.Fatalf("setup dev: exit %d, stderr %s", code, errOut)
	}
	r := w.cmd(nil, "aws", "--profile", "dev", "sts", "get-caller-identity")
	if r.code != 0 {
		t.Fatalf("aws --profile dev sts get-caller-identity after setup: exit %d: %s", r.code, r.stderr)
	}
	w.mustBroker("setup", "dev", "--region", "eu-west-1")
	if b, _ := os.ReadFile(w.config); !strings.Contains(string(b), "region = eu-west-1\n") || strings.Contains(string(b), "us-east-1") {
		t.Errorf("setup dev --region eu-west-1 left:\n%s", b)
	}
	usageFailure(t, w, "--region", "setup", "dev", "--region", "mars")
	// A region there already stays, and nothing is said about it.
	if _, errOut, _ := w.broker("setup", "dev"); strings.Contains(errOut, "region") {
		t.Errorf("setup of a profile with a region: %q", errOut)
	}
}

// TestSetupWithoutKey: setup (with --force too) of a profile with no key
// stored warns, and says how to add it.
func TestSetupWithoutKey(t *testing.T) {
	w := newWorld(t)
	w.writeConfig("[profile dev]\nregion = eu-west-1\ncredential_process = /somewhere/else export dev\n\n[profile deploy]\nregion = eu-west-1\nsource_profile = dev\nrole_arn = arn:aws:iam::123456789012:role/x\n")
	_, errOut, code := w.broker("setup", "--force", "dev")
	if code != 0 || !strings.Contains(errOut, `warning: profile "dev" has no access key in the keychain`) ||
		!strings.Contains(errOut, "hint: store it with `broker add dev`") {
		t.Errorf("setup --force dev with no key: exit %d, stderr %q", code, errOut)
	}
	_, errOut, _ = w.broker("setup", "deploy")
	if !strings.Contains(errOut, `profile "deploy" takes its key from profile "dev", which has no access key`) ||
		!strings.Contains(errOut, "`broker add dev`") {
		t.Errorf("setup deploy with no key for dev: %q", errOut)
	}
}

// TestRevokeNamesItsOwnSession: with nothing cached, the only session
// broker knows of is the one revoke minted to sign its IAM calls; the
// output says so, and that it was dropped.
func TestRevokeNamesItsOwnSession(t *testing.T) {
	w, _ := setupDev(t)
	_, errOut, code := w.broker("revoke", "dev", "--yes")
	if code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	gst := w.calls("GetSessionToken")
	if len(gst) != 1 {
		t.Fatalf("revoke made %d GetSessionToken calls, want 1", len(gst))
	}
	for _, want := range []string{"broker had none cached", "To sign these IAM calls broker minted an MFA session from the key",
		"dropped from the cache"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("revoke's output lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "the last one broker") {
		t.Errorf("revoke calls its own session the last one issued:\n%s", errOut)
	}
	var until string
	const lead = "MFA session from the key, valid until "
	if i := strings.Index(errOut, lead); i >= 0 {
		until = strings.Fields(errOut[i+len(lead):])[0]
	}
	if exp, err := time.Parse(time.RFC3339, strings.TrimSuffix(until, ";")); err != nil || time.Until(exp) < time.Hour {
		t.Errorf("revoke's own session: valid until %q (%v)", until, err)
	}
}
