//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, text := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditFindsPlantedKey is acceptance 5: a key planted in a project file
// is found with its file, line, account (from moto's GetAccessKeyInfo,
// signed with the stored key) and why it matched, skipped folders are
// skipped, files .gitignore lists are read and marked local only, a clean
// folder exits 0, and no secret ever shows.
func TestAuditFindsPlantedKey(t *testing.T) {
	w, u := setupDev(t)
	leakedID, leakedSecret := w.aws.NewUserKey(t, "mallory")
	project := filepath.Join(w.root, "project")
	plant := "aws_access_key_id = " + leakedID + "\naws_secret_access_key = " + leakedSecret + "\n"
	writeTree(t, project, map[string]string{
		"src/deploy.py":        "import boto3\n\nKEY = \"" + leakedID + "\"\nSECRET_KEY = \"" + leakedSecret + "\"\n",
		"docs/aws.md":          "For example AKIAIOSFODNN7EXAMPLE.\n",
		".gitignore":           "build/\n*.local\n",
		"build/out.txt":        plant,
		"settings.local":       plant,
		"node_modules/x/a.js":  plant,
		".git/config":          plant,
		"src/vendor/v/conf.go": plant,
	})

	r := w.cmd(nil, brokerBin, "audit", "--no-iam", project)
	if r.code != 1 {
		t.Fatalf("audit of a folder with a planted key: exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	file := filepath.Join(project, "src", "deploy.py")
	masked := leakedID[:4] + "****" + leakedID[16:]
	local := "; local only: git ignores the file\n"
	for _, want := range []string{
		file + ":3: access key ID " + masked + ": account 123456789012, yours: the account of a stored key; AKIA prefix: an access key\n",
		file + ":4: secret access key (secret hidden): a secret in plain text; secret next to key ID\n",
		filepath.Join(project, "docs", "aws.md") + ":1: access key ID AKIA****MPLE: AWS documentation example, not counted; AKIA prefix: an access key\n",
		filepath.Join(project, "build", "out.txt") + ":1: access key ID " + masked + ": account 123456789012, yours: the account of a stored key; AKIA prefix: an access key" + local,
		filepath.Join(project, "build", "out.txt") + ":2: secret access key (secret hidden): a secret in plain text; secret next to key ID" + local,
		filepath.Join(project, "settings.local") + ":2: secret access key (secret hidden): a secret in plain text; secret next to key ID" + local,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, skipped := range []string{"node_modules", ".git", "vendor"} {
		if strings.Contains(r.stdout, skipped) {
			t.Errorf("audit looked into %s:\n%s", skipped, r.stdout)
		}
	}
	if lines := strings.Count(r.stdout, project); lines != 7 {
		t.Errorf("%d findings, want 7:\n%s", lines, r.stdout)
	}
	if !strings.Contains(r.stdout, "dev") || !strings.Contains(r.stdout, "123456789012") {
		t.Errorf("the stored key is not reported:\n%s", r.stdout)
	}
	calls := w.calls("GetAccessKeyInfo")
	if len(calls) != 1 || calls[0].Params["AccessKeyId"] != leakedID || calls[0].SigningKeyID != u.keyID {
		t.Errorf("GetAccessKeyInfo calls %+v, want one for the planted key signed by the stored key", calls)
	}
	noSecretsIn(t, r, leakedSecret, u.secret, leakedID)

	// --json: the same, for programs.
	r = w.cmd(nil, brokerBin, "audit", "--no-iam", "--json", project)
	var rep struct {
		Findings []struct {
			File, Kind, Value, Account, Reason string
			Line                               int
			Example, Yours, Tracked            bool
			LocalOnly                          bool `json:"local_only"`
		}
		Found int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("audit --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if rep.Found != 6 || len(rep.Findings) != 7 {
		t.Errorf("audit --json found %d of %d: %+v", rep.Found, len(rep.Findings), rep.Findings)
	}
	for _, f := range rep.Findings {
		if f.File == file && f.Line == 3 && (f.Account != "123456789012" || f.Kind != "access-key-id" || f.Value != masked ||
			f.Reason != "AKIA prefix: an access key" || f.Tracked || f.LocalOnly) {
			t.Errorf("planted key in JSON: %+v", f)
		}
		if f.File == file && f.Line == 4 && (f.Kind != "secret-access-key" || f.Reason != "secret next to key ID") {
			t.Errorf("planted secret in JSON: %+v", f)
		}
		if local := strings.Contains(f.File, "build") || strings.Contains(f.File, "settings.local"); f.LocalOnly != local || f.Tracked {
			t.Errorf("finding in %s: local_only %v, tracked %v", f.File, f.LocalOnly, f.Tracked)
		}
	}
	noSecretsIn(t, r, leakedSecret, u.secret, leakedID)

	// A clean folder passes.
	clean := filepath.Join(w.root, "clean")
	writeTree(t, clean, map[string]string{"main.go": "package main // the secret is in the keychain\n", ".gitignore": "ignored\n",
		"node_modules/x.js": plant})
	r = w.cmd(nil, brokerBin, "audit", "--no-iam", clean)
	if r.code != 0 || strings.Contains(r.stdout, clean) || !strings.Contains(r.stderr, "nothing found") {
		t.Errorf("audit of a clean folder: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	w.scanForSecrets(u.secret)
}

// noSecretsIn fails if the command printed any of the secrets.
func noSecretsIn(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("audit printed a secret or an unmasked key ID")
		}
	}
}

// TestAuditStoredKeys: the default paths (~/.aws/credentials and config),
// the stored key's IAM status through one MFA code, and errors.
func TestAuditStoredKeys(t *testing.T) {
	w, u := setupDev(t)
	credentialsFile(t, w, "[dev]\naws_access_key_id = "+u.keyID+"\naws_secret_access_key = "+u.secret+"\n")
	r := w.cmd(nil, brokerBin, "audit")
	if r.code != 1 {
		t.Fatalf("audit: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	creds := filepath.Join(w.home, ".aws", "credentials")
	for _, want := range []string{
		creds + `:2: access key ID ` + u.keyID[:4] + "****" + u.keyID[16:] + `: account 123456789012, yours: the stored key of profile "dev"`,
		creds + `:3: secret access key (secret hidden): the secret of your stored key for profile "dev"`,
		"Active", " sts ", // GetSessionToken used it
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("%d MFA codes asked, want 1", n)
	}
	if len(w.calls("ListAccessKeys")) != 1 || len(w.calls("GetAccessKeyInfo")) != 0 {
		t.Errorf("IAM and STS calls: %d ListAccessKeys, %d GetAccessKeyInfo (the stored key needs none)",
			len(w.calls("ListAccessKeys")), len(w.calls("GetAccessKeyInfo")))
	}
	noSecretsIn(t, r, u.secret, u.keyID)

	// --show-ids shows key IDs, never secrets; --offline calls nothing.
	r = w.cmd(nil, brokerBin, "audit", "--offline", "--show-ids")
	if r.code != 1 || !strings.Contains(r.stdout, u.keyID) || strings.Contains(r.stdout, u.secret) {
		t.Errorf("audit --show-ids: exit %d\n%s", r.code, r.stdout)
	}
	before := len(w.aws.Requests(t))
	w.cmd(nil, brokerBin, "audit", "--offline")
	if after := len(w.aws.Requests(t)); after != before {
		t.Errorf("audit --offline made %d AWS calls", after-before)
	}

	// Errors: exit 2, one broker: line, nothing on stdout.
	for _, args := range [][]string{{"audit", filepath.Join(w.root, "missing")}, {"audit", "--exclude", "[x", w.root}, {"audit", "--bogus"}} {
		r := w.cmd(nil, brokerBin, args...)
		if r.code != 2 {
			t.Errorf("broker %s: exit %d, want 2", strings.Join(args, " "), r.code)
		}
		assertFailure(t, r, "")
	}
}
