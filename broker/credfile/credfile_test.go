package credfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/broker-dev/broker/internal/atomicfile"
)

const (
	id1     = "AKIAQX0FAKEKEY0ABCDE"
	secret1 = "wJalrXUtnFEMIK7MDENGbPxRfiCYabcd1234+/xy"
	id2     = "AKIAQX0FAKEKEY0VWXYZ"
	secret2 = "Zz9yXUtnFEMIK7MDENGbPxRfiCYabcd1234+/QQQ"
)

const sample = "# my keys\n" +
	"[default]\n" +
	"aws_access_key_id = " + id1 + "\n" +
	"aws_secret_access_key = " + secret1 + "\n" +
	"\n" +
	"; work account\n" +
	"[work]\n" +
	"region = eu-west-1\n" +
	"AWS_Access_Key_ID=" + id2 + " # inline\n" +
	"aws_secret_access_key=" + secret2 + "\n" +
	"\n" +
	"[temp]\n" +
	"aws_access_key_id = ASIAQX0FAKEKEY0TEMPO\n" +
	"aws_secret_access_key = tempSECRETtempSECRETtempSECRETtempSECRE\n" +
	"aws_session_token = FwoGZXIvYXdzEtoken\n"

func TestEntries(t *testing.T) {
	f, err := Parse("credentials", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Entries()
	want := []Entry{
		{Profile: "default", Line: 3, AccessKeyID: id1, SecretAccessKey: secret1},
		{Profile: "work", Line: 9, AccessKeyID: id2, SecretAccessKey: secret2},
		{Profile: "temp", Line: 13, AccessKeyID: "ASIAQX0FAKEKEY0TEMPO", SecretAccessKey: "tempSECRETtempSECRETtempSECRETtempSECRE", HasToken: true},
	}
	if len(got) != len(want) {
		t.Fatalf("Entries = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[2].Temporary() || got[0].Temporary() {
		t.Error("Temporary is wrong")
	}
}

func TestEntryProblems(t *testing.T) {
	for _, tc := range []struct{ name, text, problem string }{
		{"twice", "[a]\naws_access_key_id = " + id1 + "\n[a]\naws_access_key_id = " + id2 + "\naws_secret_access_key = " + secret1 + "\n", "more than once"},
		{"no secret", "[a]\naws_access_key_id = " + id1 + "\n", "without aws_secret_access_key"},
		{"no id", "[a]\naws_secret_access_key = " + secret1 + "\n", "without aws_access_key_id"},
		{"continued", "[a]\naws_access_key_id = " + id1 + "\naws_secret_access_key = abc\n  def\n", "several lines"},
	} {
		f, err := Parse("c", []byte(tc.text))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		e := f.Entries()
		if len(e) != 1 || !strings.Contains(e[0].Problem, tc.problem) {
			t.Errorf("%s: Entries = %+v, want problem %q", tc.name, e, tc.problem)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		line int
	}{
		{"aws_access_key_id = " + id1 + "\n", 1},
		{"[a\n", 1},
		{"[a]\nnot a key " + secret1 + "\n", 2},
		{"[]\n", 1},
		{"[a]\n\x00\n", 1},
		// botocore reads these as the sections "a]", " a" and "a ".
		{"[b]\n[a]]\n", 2},
		{"[ a]\n", 1},
		{"[a ]\n", 1},
	} {
		_, err := Parse("c", []byte(tc.text))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != tc.line {
			t.Errorf("Parse(%q) = %v, want a SyntaxError on line %d", tc.text, err, tc.line)
		}
		if err != nil && strings.Contains(err.Error(), secret1) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}

func TestWithout(t *testing.T) {
	f, err := Parse("c", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.Without("default", "work"))
	want := "# my keys\n" +
		"\n" +
		"; work account\n" +
		"[work]\n" +
		"region = eu-west-1\n" +
		"\n" +
		"[temp]\n" +
		"aws_access_key_id = ASIAQX0FAKEKEY0TEMPO\n" +
		"aws_secret_access_key = tempSECRETtempSECRETtempSECRETtempSECRE\n" +
		"aws_session_token = FwoGZXIvYXdzEtoken\n"
	if got != want {
		t.Errorf("Without =\n%s\nwant\n%s", got, want)
	}
	if got := f.Without(); !bytes.Equal(got, f.Data) {
		t.Error("Without() changed the file")
	}
}

func TestWithoutCRLFAndNoFinalNewline(t *testing.T) {
	text := "[a]\r\naws_access_key_id = " + id1 + "\r\n# keep\r\naws_secret_access_key = " + secret1
	f, err := Parse("c", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Without("a")); got != "# keep\r\n" {
		t.Errorf("Without = %q", got)
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte(sample), 0o640); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o640); err != nil { // umask
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	f, err := Read(link)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Settings("work"); len(s) != 1 || s[0].Name != "region" || s[0].Value != "eu-west-1" {
		t.Errorf("Settings(work) = %+v", s)
	}
	// Another program adds a line after Read: it stays. A profile whose
	// key is no longer the one given stays whole.
	changed := strings.Replace(sample, "; work account\n", "; work account\n[new]\nregion = x\n", 1)
	if err := os.WriteFile(path, []byte(changed), 0o640); err != nil {
		t.Fatal(err)
	}
	removed, err := Remove(link, []Move{
		{Profile: "default", AccessKeyID: id1, SecretAccessKey: secret1},
		{Profile: "work", AccessKeyID: id2, SecretAccessKey: secret2, Settings: map[string]string{"region": "eu-west-1"}},
		{Profile: "temp", AccessKeyID: id1, SecretAccessKey: secret1},
	})
	if err != nil || len(removed) != 2 || removed[0] != "default" || removed[1] != "work" {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	b, _ := os.ReadFile(path)
	want := "# my keys\n\n; work account\n[new]\nregion = x\n\n[temp]\n" +
		"aws_access_key_id = ASIAQX0FAKEKEY0TEMPO\naws_secret_access_key = tempSECRETtempSECRETtempSECRETtempSECRE\naws_session_token = FwoGZXIvYXdzEtoken\n"
	if string(b) != want {
		t.Errorf("file after Remove:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "credentials" && e.Name() != "link" && e.Name() != ".credentials.broker.lock" {
			t.Errorf("the folder holds %s", e.Name())
		}
	}
}

func TestReadRefusesHardLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no link count on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(path, filepath.Join(dir, "old-credentials")); err != nil {
		t.Fatal(err)
	}
	var le *atomicfile.LinksError
	if _, err := Read(path); !errors.As(err, &le) {
		t.Fatalf("Read = %v, want a LinksError", err)
	}
}

// FuzzWithout checks the rewriter: the output parses; it is the input
// with some whole lines taken out, and only key lines of removed profiles
// and their headers; no removed secret is left unless another line kept
// holds it too.
func FuzzWithout(f *testing.F) {
	f.Add([]byte(sample), "default")
	f.Add([]byte(sample), "work")
	f.Add([]byte("[a]\r\naws_access_key_id=x\r\n  y\r\n[a]\r\naws_secret_access_key = z"), "a")
	f.Add([]byte("[a]\naws_access_key_id = 1 ; c\n\n\taws_secret_access_key = 2\n"), "a")
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		in, err := Parse("c", data)
		if err != nil {
			return
		}
		out := in.Without(profile)
		parsed, err := Parse("c", out)
		if err != nil {
			t.Fatalf("the output does not parse: %v\n%q", err, out)
		}
		for _, e := range parsed.Entries() {
			if e.Profile == profile && (e.AccessKeyID != "" || e.SecretAccessKey != "") {
				t.Fatalf("profile %q keeps its key: %q", profile, out)
			}
		}
		// The output is the input's lines, in order, minus some.
		inLines, outLines := splitLines(data), splitLines(out)
		j := 0
		var removed []string
		for _, l := range inLines {
			if j < len(outLines) && outLines[j] == l {
				j++
				continue
			}
			removed = append(removed, l)
		}
		if j != len(outLines) {
			t.Fatalf("the output is not the input minus whole lines:\n%q\n%q", data, out)
		}
		for _, l := range removed {
			trimmed := strings.TrimSpace(l)
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
				t.Fatalf("a blank line or comment was removed: %q", l)
			}
		}
		for _, s := range in.Sections {
			if s.Name != profile {
				continue
			}
			for _, k := range s.Keys {
				if k.Name != KeySecret || k.Value == "" {
					continue
				}
				kept := 0
				for _, l := range outLines {
					kept += strings.Count(l, k.Value)
				}
				had := strings.Count(string(data), k.Value)
				if kept > 0 && kept >= had {
					t.Fatalf("the secret of %q was not removed", profile)
				}
			}
		}
	})
}

// splitLines splits after each "\n", keeping it.
func splitLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, string(b))
			break
		}
		lines = append(lines, string(b[:i+1]))
		b = b[i+1:]
	}
	return lines
}
