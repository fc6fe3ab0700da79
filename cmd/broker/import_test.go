//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/broker-dev/broker/internal/moto"
)

// Temporary credentials in the file: they stay, untouched.
const (
	tempID     = "ASIAQX0FAKEKEY0TEMPO"
	tempSecret = "tempSECRETtempSECRETtempSECRETtempSECR/+"
	tempToken  = "FwoGZXIvYXdzEFAKETOKENFAKETOKENFAKETOKEN"
)

// credentialsFile writes the world's ~/.aws/credentials, mode 0640.
func credentialsFile(t *testing.T, w *world, text string) string {
	t.Helper()
	path := filepath.Join(w.home, ".aws", "credentials")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImport is acceptance 6: a credentials file with a long-term key, a
// comment and a temporary-credentials profile. The key moves to the
// keychain, the secret leaves the file, the rest stays byte for byte, the
// mode stays, and the profile works through broker.
func TestImport(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig(fmt.Sprintf("[profile dev]\nregion = eu-west-1\nmfa_process = %s\n", w.mfaProcess("123456")))
	head := "# my AWS keys; do not share\n[dev]\n; alice, created by hand\n"
	keyLines := "aws_access_key_id = " + u.keyID + "\naws_secret_access_key=" + u.secret + "\n"
	tail := "output = json\n\n[temp]\naws_access_key_id = " + tempID + "\naws_secret_access_key = " + tempSecret +
		"\naws_session_token = " + tempToken + "\n"
	path := credentialsFile(t, w, head+keyLines+tail)

	// --dry-run and a missing confirmation change nothing.
	r := w.cmd(nil, brokerBin, "import", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "Dry run") || !strings.Contains(r.stderr, `profile "dev": key ****`+u.keyID[16:]) {
		t.Fatalf("import --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	assertFailure(t, w.cmd(nil, brokerBin, "import"), "needs confirmation")
	if b, _ := os.ReadFile(path); string(b) != head+keyLines+tail {
		t.Fatal("the file changed before the import")
	}
	if keys := profilesWithKeys(w.mustBroker("list", "--json")); len(keys) != 0 {
		t.Fatalf("keys stored before the import: %v", keys)
	}

	r = w.cmd(nil, brokerBin, "import", "--yes")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("import: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "temporary credentials stay") || !strings.Contains(r.stderr, `Moved access key ****`+u.keyID[16:]) {
		t.Errorf("import did not say what moved and what stayed:\n%s", r.stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// output moved into the config, and the section left with no key
	// lost its header; the comment stays.
	if want := "# my AWS keys; do not share\n; alice, created by hand\n" + strings.TrimPrefix(tail, "output = json\n"); string(b) != want {
		t.Errorf("credentials file after import:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		// The edit locks hold nothing.
		if e.Name() != "credentials" && e.Name() != "config" && !strings.HasSuffix(e.Name(), ".broker.lock") {
			t.Errorf("~/.aws holds %s after the import", e.Name())
		}
	}
	if keys := profilesWithKeys(w.mustBroker("list", "--json")); len(keys) != 1 || keys[0] != "dev" {
		t.Errorf("stored keys after import: %v", keys)
	}
	cfg, _ := os.ReadFile(w.config)
	if !strings.Contains(string(cfg), "credential_process = "+clientBin+" dev\n") ||
		!strings.Contains(string(cfg), "mfa_serial = "+u.serial) || !strings.Contains(string(cfg), "output = json") {
		t.Errorf("the profile is not wired to broker:\n%s", cfg)
	}

	// The profile works: broker's session, from the imported key.
	e := decodeExport(t, w.mustBroker("export", "dev"))
	if e.AccessKeyID == u.keyID {
		t.Error("export handed out the long-term key")
	}
	if calls := w.calls("GetSessionToken"); len(calls) != 1 || calls[0].SigningKeyID != u.keyID {
		t.Errorf("GetSessionToken calls %+v, want one signed by the imported key", calls)
	}
	if r := w.cmd(nil, "aws", "--profile", "dev", "sts", "get-caller-identity"); r.code != 0 {
		t.Errorf("aws --profile dev after the import: %s", r.stderr)
	}
	w.scanForSecrets(u.secret, e.SecretAccessKey, e.SessionToken)

	// Again: nothing left to move.
	r = w.cmd(nil, brokerBin, "import", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "No long-term key to import") {
		t.Errorf("a second import: exit %d\n%s", r.code, r.stderr)
	}
}

// TestImportConflicts: a profile with another stored key is skipped
// without --force; one with the same key only leaves the file; a file
// that is not a credentials file is refused and left alone.
func TestImportConflicts(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.newUser("alice"), w.newUser("bob")
	w.writeConfig("[profile dev]\nregion = eu-west-1\nmfa_serial = " + alice.serial + "\n")
	w.addKey("dev", alice)
	w.addKey("ops", bob)
	text := "[dev]\naws_access_key_id = " + alice.keyID + "\naws_secret_access_key = " + alice.secret + "\n" +
		"[ops]\naws_access_key_id = " + alice.keyID + "\naws_secret_access_key = " + alice.secret + "\n"
	path := credentialsFile(t, w, text)
	r := w.cmd(nil, brokerBin, "import", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, `profile "ops": skipped: the keychain holds another key`) {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(path)
	if want := "[ops]\naws_access_key_id = " + alice.keyID + "\naws_secret_access_key = " + alice.secret + "\n"; string(b) != want {
		t.Errorf("file after import:\n%s", b)
	}
	r = w.cmd(nil, brokerBin, "import", "--yes", "--force")
	if b, _ := os.ReadFile(path); r.code != 0 || len(b) != 0 {
		t.Errorf("import --force: exit %d, file %q\n%s", r.code, b, r.stderr)
	}

	bad := "[dev]\naws_access_key_id = " + alice.keyID + "\nthis is not ini " + alice.secret + "\n"
	credentialsFile(t, w, bad)
	r = w.cmd(nil, brokerBin, "import", "--yes")
	assertFailure(t, r, "credentials:3:")
	if strings.Contains(r.stderr, alice.secret) {
		t.Error("the error shows the secret")
	}
	if b, _ := os.ReadFile(path); string(b) != bad {
		t.Error("a file broker refused was changed")
	}
	assertFailure(t, w.cmd(nil, brokerBin, "import", "--from", filepath.Join(w.home, "missing")), "missing")
}

// TestImportMovesSettings is issue 8.8 (import): the settings of a
// credentials section move into the profile in the config (broker exec then
// has the region); a value the config sets otherwise is kept there, said,
// and stays in the file; and no hint tells the user to run `broker add`
// for a key that has just left the file.
func TestImportMovesSettings(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.newUser("alice"), w.newUser("bob")
	carolID, carolSecret := w.aws.NewUserKey(t, "carol") // no MFA device
	w.writeConfig("[profile dev]\nregion = us-east-1\nmfa_serial = " + alice.serial + "\n")
	creds := credentialsFile(t, w, "[dev]\naws_access_key_id = "+alice.keyID+"\naws_secret_access_key = "+alice.secret+
		"\nregion = eu-west-1\noutput = json\n\n"+
		"[ops]\naws_access_key_id = "+bob.keyID+"\naws_secret_access_key = "+bob.secret+
		"\nregion = eu-west-2\nmfa_serial = "+bob.serial+"\nmfa_process = echo 123456\n\n"+
		"[lonely]\naws_access_key_id = "+carolID+"\naws_secret_access_key = "+carolSecret+"\n")
	r := w.cmd(nil, brokerBin, "import", "--yes")
	if r.code != 0 {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "broker add") {
		t.Errorf("import tells the user to run broker add for a key it removed from the file:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "aws configure set mfa_serial ARN --profile lonely") {
		t.Errorf("no way to name lonely's MFA device later:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, `profile "dev": region stays in the file`) || strings.Contains(r.stderr, "eu-west-1") {
		t.Errorf("the conflicting region is not reported (without its value):\n%s", r.stderr)
	}
	// Blank lines stay, as every line broker does not remove.
	if got, want := readText(t, creds), "[dev]\nregion = eu-west-1\n\n\n"; got != want {
		t.Errorf("credentials file after import:\n%s\nwant:\n%s", got, want)
	}
	cfg := readText(t, w.config)
	for _, want := range []string{
		"[profile dev]\nregion = us-east-1\nmfa_serial = " + alice.serial + "\noutput = json\ncredential_process = ",
		"[profile ops]\nregion = eu-west-2\nmfa_serial = " + bob.serial + "\nmfa_process = echo 123456\ncredential_process = ",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config after import:\n%s\nwant it to hold:\n%s", cfg, want)
		}
	}
	// The moved region is what broker exec hands the command.
	out := w.mustBroker("exec", "ops", "--", "sh", "-c", "echo $AWS_REGION")
	if strings.TrimSpace(out) != "eu-west-2" {
		t.Errorf("broker exec ops: AWS_REGION %q, want eu-west-2", out)
	}
}

// TestImportVerifiesKeys: import asks AWS about each key before storing
// it, as add does. A key AWS rejects (a mistyped secret) is not imported:
// it stays in the file byte for byte, one line names its profile, and the
// exit status is 1; the good key moves. So with keys AWS cannot be asked
// about. --dry-run shows whose each key is and changes nothing; a refused
// key replaces no stored key even with --force; and --no-verify imports
// without asking.
func TestImportVerifiesKeys(t *testing.T) {
	w := newWorld(t)
	alice, carol, erin := w.newUser("alice"), w.newUser("carol"), w.newUser("erin")
	w.writeConfig("[profile good]\nmfa_serial = " + alice.serial + "\n[profile typo]\nmfa_serial = " + carol.serial + "\n")
	w.aws.EnforceAuth(t)
	typoSecret := carol.secret[:len(carol.secret)-1] + "x"
	if typoSecret == carol.secret {
		typoSecret = carol.secret[:len(carol.secret)-1] + "y"
	}
	good := "[good]\naws_access_key_id = " + alice.keyID + "\naws_secret_access_key = " + alice.secret + "\nregion = eu-west-1\n"
	typo := "[typo]\n# carol's, typed by hand\naws_access_key_id = " + carol.keyID + "\naws_secret_access_key = " + typoSecret + "\noutput = json\n"
	path := credentialsFile(t, w, good+"\n"+typo)
	mask := func(id string) string { return "****" + id[len(id)-4:] }
	noSecrets := func(step string, r result) {
		t.Helper()
		for _, s := range []string{alice.secret, typoSecret} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("%s shows a secret:\n%s", step, r.stderr)
			}
		}
		if strings.Contains(r.stderr, carol.keyID) || strings.Contains(r.stderr, alice.keyID) {
			t.Errorf("%s shows a key ID unmasked:\n%s", step, r.stderr)
		}
	}
	refused := func(step string, r result, why ...string) {
		t.Helper()
		for _, want := range why {
			if strings.Count(r.stderr, want) != 1 {
				t.Errorf("%s does not say once %q:\n%s", step, want, r.stderr)
			}
		}
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-2], "broker: ") || !strings.Contains(lines[len(lines)-2], ": profile") ||
			!strings.HasPrefix(lines[len(lines)-1], "hint: ") || !strings.Contains(lines[len(lines)-1], "--no-verify") {
			t.Errorf("%s does not end with the refused profiles and a hint about --no-verify:\n%s", step, r.stderr)
		}
		noSecrets(step, r)
	}
	typoRefused := `profile "typo": not imported: AWS rejected key ` + mask(carol.keyID) + "; it stays in the file"
	unchanged := func(step string) {
		t.Helper()
		if readText(t, path) != good+"\n"+typo {
			t.Fatalf("%s changed the credentials file", step)
		}
		if keys := profilesWithKeys(w.mustBroker("list", "--json")); len(keys) != 0 {
			t.Fatalf("%s stored keys: %v", step, keys)
		}
	}

	// No answer from STS: every key stays.
	r := w.cmd([]string{"AWS_ENDPOINT_URL_STS=http://127.0.0.1:1"}, brokerBin, "import", "--yes")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `broker: 2 key(s) not imported, as AWS rejected them or could not be asked: profiles "good", "typo"`) {
		t.Fatalf("import with STS unreachable: exit %d, want 1\n%s", r.code, r.stderr)
	}
	refused("import with STS unreachable", r,
		`profile "good": not imported: could not ask AWS about key `+mask(alice.keyID)+" (sts is unreachable at http://127.0.0.1:1",
		`profile "typo": not imported: could not ask AWS about key `+mask(carol.keyID)+" (sts is unreachable at http://127.0.0.1:1")
	unchanged("import with STS unreachable")

	r = w.cmd(nil, brokerBin, "import", "--dry-run")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Dry run: nothing changed") ||
		!strings.Contains(r.stderr, "broker: 1 key(s) would not be imported") {
		t.Fatalf("import --dry-run: exit %d, want 1\n%s", r.code, r.stderr)
	}
	whose := fmt.Sprintf(`profile "good": key %s of arn:aws:iam::%s:user/alice (account %s) moves to the keychain`,
		mask(alice.keyID), moto.DefaultAccountID, moto.DefaultAccountID)
	if !strings.Contains(r.stderr, whose) {
		t.Errorf("import --dry-run does not say whose the good key is (%q):\n%s", whose, r.stderr)
	}
	refused("import --dry-run", r, typoRefused)
	unchanged("import --dry-run")

	r = w.cmd(nil, brokerBin, "import", "--yes")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Moved access key "+mask(alice.keyID)) ||
		!strings.Contains(r.stderr, `broker: 1 key(s) not imported, as AWS rejected them or could not be asked: profile "typo"`) {
		t.Fatalf("import: exit %d, want 1, and the good key moved\n%s", r.code, r.stderr)
	}
	refused("import", r, typoRefused)
	if got, want := readText(t, path), "\n"+typo; got != want {
		t.Errorf("credentials file after import:\n%s\nwant the refused key's section as it was:\n%s", got, want)
	}
	if keys := profilesWithKeys(w.mustBroker("list", "--json")); len(keys) != 1 || keys[0] != "good" {
		t.Errorf("stored keys after import: %v, want good's alone", keys)
	}
	if cfg := readText(t, w.config); !strings.Contains(cfg, "credential_process = "+clientBin+" good\n") ||
		strings.Contains(cfg, "typo\n") || strings.Contains(cfg, "output = json") {
		t.Errorf("config after import: the refused profile is changed, or good is not set up:\n%s", cfg)
	}
	asked := func() (n int) {
		for _, c := range w.calls("GetCallerIdentity") {
			if c.SigningKeyID == carol.keyID {
				n++
			}
		}
		return n
	}
	if asked() == 0 {
		t.Error("no GetCallerIdentity was signed by the mistyped key")
	}

	// A refused key replaces nothing, even with --force.
	w.addKey("typo", erin)
	r = w.cmd(nil, brokerBin, "import", "--yes", "--force")
	if r.code != 1 || storedKeyID(t, w, "typo") != mask(erin.keyID) || readText(t, path) != "\n"+typo {
		t.Fatalf("import --force of a refused key: exit %d, typo's key %s, want 1, erin's %s kept and the file as it was\n%s",
			r.code, storedKeyID(t, w, "typo"), mask(erin.keyID), r.stderr)
	}
	refused("import --force", r, typoRefused)

	before := asked()
	r = w.cmd(nil, brokerBin, "import", "--yes", "--no-verify", "--force")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("import --no-verify: exit %d\n%s", r.code, r.stderr)
	}
	noSecrets("import --no-verify", r)
	if asked() != before {
		t.Error("import --no-verify asked AWS about the key")
	}
	if got := readText(t, path); strings.Contains(got, "aws_") {
		t.Errorf("keys left in the file after import --no-verify:\n%s", got)
	}
	if storedKeyID(t, w, "typo") != mask(carol.keyID) {
		t.Errorf("import --no-verify did not store the mistyped key: %s", w.mustBroker("list"))
	}

	// From the start: --no-verify imports both keys.
	w.mustBroker("remove", "--yes", "good")
	w.mustBroker("remove", "--yes", "typo")
	credentialsFile(t, w, good+"\n"+typo)
	r = w.cmd(nil, brokerBin, "import", "--yes", "--no-verify")
	if r.code != 0 || strings.Contains(readText(t, path), "aws_") || storedKeyID(t, w, "good") != mask(alice.keyID) ||
		storedKeyID(t, w, "typo") != mask(carol.keyID) || asked() != before {
		t.Errorf("import --no-verify of both keys: exit %d, file:\n%s\n%s", r.code, readText(t, path), r.stderr)
	}
}
