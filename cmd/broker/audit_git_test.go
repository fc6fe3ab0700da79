//go:build linux

package main

import (
	"crypto/rand"
	"encoding/base64"
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

// TestAuditPaths: what `audit --offline` reads, as a user names it: a
// symlink to a folder, a Terraform state over 4 MiB (named, and in a
// folder), a credentials file in base64 wrapped at 76 columns, a JSON body
// with \n before a key ID, a UTF-16 file without a byte order mark; binary
// files are counted, a binary file named is listed as skipped, and a file
// named that cannot be read is an error. Secrets never show.
func TestAuditPaths(t *testing.T) {
	w := newWorld(t)
	var secrets []string
	key := func() (string, string) {
		id, s := fakeKey(t)
		secrets = append(secrets, id, s)
		return id, s
	}
	repo := filepath.Join(w.root, "repo")
	id, s := key()
	var tf strings.Builder
	tf.WriteString("{\n  \"version\": 4,\n  \"resources\": [\n")
	for i := 0; tf.Len() < 5<<20; i++ {
		tf.WriteString(`    {"type": "aws_s3_object", "key": "logs/` + strings.Repeat("x", 40) + `.gz"},` + "\n")
	}
	tf.WriteString(`    {"type": "aws_iam_access_key", "id": "` + id + `", "secret": "` + s + `"}` + "\n  ]\n}\n")
	id2, s2 := key()
	b64 := base64.StdEncoding.EncodeToString([]byte("[default]\naws_access_key_id = " + id2 + "\naws_secret_access_key = " + s2 + "\n"))
	wrapped := ""
	for ; len(b64) > 76; b64 = b64[76:] {
		wrapped += b64[:76] + "\n"
	}
	id3, s3 := key()
	id4, s4 := key()
	var u16 []byte // UTF-16LE, no byte order mark, a character beyond Latin-1
	for _, c := range utf16.Encode([]rune("# 5 € a month\r\naws_access_key_id = " + id4 + "\r\naws_secret_access_key = " + s4 + "\r\n")) {
		u16 = append(u16, byte(c), byte(c>>8))
	}
	writeTree(t, repo, map[string]string{
		"infra/terraform.tfstate": tf.String(),
		"k8s/credentials.b64":     wrapped + b64 + "\n",
		"events/s3.json":          `{"body": "Access key ID,Secret access key\n` + id3 + "," + s3 + `\n"}` + "\n",
		"win/credentials":         string(u16),
		"assets/logo.png":         "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
	})
	link := filepath.Join(w.root, "repolink")
	if err := os.Symlink(repo, link); err != nil {
		t.Fatal(err)
	}

	r := w.cmd(nil, brokerBin, "audit", "--offline", "--json", link)
	var rep struct {
		Findings []struct{ File, Kind string }
		Skipped  []struct{ File, Reason string }
		Files    int `json:"files_scanned"`
		Binary   int `json:"files_binary"`
		Found    int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("audit --json of a symlinked folder: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	perFile := map[string]int{}
	for _, f := range rep.Findings {
		rel, err := filepath.Rel(link, f.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("finding in %s, not under %s", f.File, link)
		}
		perFile[filepath.ToSlash(rel)]++
	}
	for _, rel := range []string{"infra/terraform.tfstate", "k8s/credentials.b64", "events/s3.json", "win/credentials"} {
		if perFile[rel] != 2 {
			t.Errorf("%s: %d findings, want the key ID and the secret\n%s", rel, perFile[rel], r.stdout)
		}
	}
	if rep.Found != 8 || rep.Files != 4 || rep.Binary != 1 || len(rep.Skipped) != 0 {
		t.Errorf("found %d in %d files, %d binary, skipped %+v; want 8 in 4, 1 binary, none skipped", rep.Found, rep.Files, rep.Binary, rep.Skipped)
	}
	if !strings.Contains(r.stderr, "audit: 8 finding(s); 4 file(s) scanned, 1 binary file(s) not read\n") {
		t.Errorf("summary:\n%s", r.stderr)
	}
	noSecretsIn(t, r, secrets...)

	// Named on their own: the large file is read; a binary file is listed.
	tfstate, logo := filepath.Join(repo, "infra", "terraform.tfstate"), filepath.Join(repo, "assets", "logo.png")
	r = w.cmd(nil, brokerBin, "audit", "--offline", tfstate, logo)
	if r.code != 1 || !strings.Contains(r.stdout, tfstate+":") || !strings.Contains(r.stdout, logo+": skipped: binary") ||
		!strings.Contains(r.stderr, "audit: 2 finding(s); 1 file(s) scanned, 1 skipped\n") {
		t.Errorf("audit of a large file and a binary one: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	noSecretsIn(t, r, secrets...)
	r = w.cmd(nil, brokerBin, "audit", "--offline", logo)
	if r.code != 0 || !strings.Contains(r.stderr, "audit: nothing found; 0 file(s) scanned, 1 skipped\n") {
		t.Errorf("audit of a binary file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A file named that cannot be read: exit 2, one line, nothing on stdout.
	r = w.cmd(nil, brokerBin, "audit", "--offline", repo, "/proc/self/mem")
	if r.code != 2 {
		t.Errorf("audit of a file that cannot be read: exit %d, want 2\n%s", r.code, r.stderr)
	}
	assertFailure(t, r, "cannot read /proc/self/mem")
}
