//go:build linux

package main

import (
	"crypto/rand"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// randomFrom is n characters of chars, at random.
func randomFrom(t *testing.T, chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = chars[k.Int64()]
	}
	return string(b)
}

// fakeKey is a key ID and secret shaped as AWS issues them, made now.
func fakeKey(t *testing.T) (string, string) {
	for {
		id := "AKIA" + randomFrom(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
		s := randomFrom(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
		if strings.ContainsAny(s, "0123456789+/") && strings.ToLower(s) != s && strings.ToUpper(s) != s {
			return id, s
		}
	}
}

// TestAuditGitAndUTF16: in a git repository, `audit --json` says which
// files git tracks (a file committed before .gitignore listed it) and
// which are local only (ignored, untracked), reads both, and reads a
// credentials file PowerShell 5 saved as UTF-16; secrets never show.
func TestAuditGitAndUTF16(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	w := newWorld(t)
	repo := filepath.Join(w.root, "repo")
	var secrets []string
	plant := func() string {
		id, s := fakeKey(t)
		secrets = append(secrets, id, s)
		return "aws_access_key_id = " + id + "\naws_secret_access_key = " + s + "\n"
	}
	writeTree(t, repo, map[string]string{"deploy/prod.env": plant()})
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir, cmd.Env = repo, append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-qm", "deploy settings")
	writeTree(t, repo, map[string]string{".gitignore": "*.env\n", "local.env": plant()})
	var ps []byte // UTF-16LE with a byte order mark, CRLF
	for _, c := range utf16.Encode([]rune("\uFEFF" + strings.ReplaceAll("[default]\n"+plant(), "\n", "\r\n"))) {
		ps = append(ps, byte(c), byte(c>>8))
	}
	if err := os.WriteFile(filepath.Join(repo, "ps5-credentials"), ps, 0o600); err != nil {
		t.Fatal(err)
	}

	r := w.cmd(nil, brokerBin, "audit", "--offline", "--json", repo)
	var rep struct {
		Findings []struct {
			File, Kind, Reason string
			Line               int
			Tracked            bool
			LocalOnly          bool `json:"local_only"`
		}
		Files int `json:"files_scanned"`
		Found int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("audit --json: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	want := map[string][3]bool{ // file: tracked, local only, found
		"deploy/prod.env": {true, false, false}, "local.env": {false, true, false}, "ps5-credentials": {false, false, false},
	}
	for _, f := range rep.Findings {
		rel, _ := filepath.Rel(repo, f.File)
		st, ok := want[rel]
		if !ok || f.Tracked != st[0] || f.LocalOnly != st[1] {
			t.Errorf("finding %+v: want tracked %v, local only %v", f, st[0], st[1])
			continue
		}
		if rel == "ps5-credentials" && (f.Line < 2 || !strings.HasSuffix(f.Reason, ", in a UTF-16LE file")) {
			t.Errorf("UTF-16 finding %+v", f)
		}
		st[2] = true
		want[rel] = st
	}
	for rel, st := range want {
		if !st[2] {
			t.Errorf("nothing found in %s:\n%s", rel, r.stdout)
		}
	}
	if rep.Found != 6 || rep.Files != 4 {
		t.Errorf("found %d in %d files, want 6 in 4", rep.Found, rep.Files)
	}
	noSecretsIn(t, r, secrets...)
	r = w.cmd(nil, brokerBin, "audit", "--offline", repo)
	if !strings.Contains(r.stdout, filepath.Join(repo, "deploy", "prod.env")+":1: access key ID ") ||
		!strings.Contains(r.stdout, "; tracked by git\n") || !strings.Contains(r.stdout, "; local only: git ignores the file\n") {
		t.Errorf("audit output:\n%s", r.stdout)
	}
	noSecretsIn(t, r, secrets...)
}
