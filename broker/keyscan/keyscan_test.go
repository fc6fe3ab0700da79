package keyscan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	realID     = "AKIAQX0FAKEKEY0ABCDE"
	realSecret = "wJalrXUtnFEMIK7MDENGbPxRfiCYabcd1234+/xy"
)

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []Kind
		ex   bool
	}{
		{"aws_access_key_id = " + realID, []Kind{LongTermKeyID}, false},
		{`"AccessKeyId": "ASIAQX0FAKEKEY0ABCDE",`, []Kind{TemporaryKeyID}, false},
		{"export AWS_SECRET_ACCESS_KEY=" + realSecret, []Kind{Secret}, false},
		{`{"SecretAccessKey":"` + realSecret + `"}`, []Kind{Secret}, false},
		{"key=" + realID + " secret=" + realSecret, []Kind{LongTermKeyID, Secret}, false},
		{"AKIAIOSFODNN7EXAMPLE", []Kind{LongTermKeyID}, true},
		{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []Kind{Secret}, true},
		// Not keys:
		{"X" + realID, nil, false},
		{realID + "9", nil, false},
		{"akiaqx3fakekey7abcde", nil, false},
		{"AKIAQX0FAKEKEY0ABCD", nil, false},
		{"commit " + realSecret, nil, false},                                     // no "secret" word before it
		{"secret = " + realSecret + "z", nil, false},                             // 41 characters
		{"secret = " + realSecret + "=", nil, false},                             // base64 padding: a longer blob
		{"secret: 0123456789abcdef0123456789abcdef01234567", nil, false},         // a hex digest
		{"secret: ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN", nil, false},         // one case only
		{"secretAbcdefghijklmnopqrstuvwxyzABCDEFGH1", nil, false},                // the word is part of the run
		{realSecret + " is the secret", nil, false},                              // the word comes after
		{"the secret is sha256:" + strings.Repeat("aB1", 13) + "x/", nil, false}, // run of 41
	} {
		got := Lines("f", []byte("first line\n"+tc.line+"\n"))
		var kinds []Kind
		for _, f := range got {
			kinds = append(kinds, f.Kind)
			if f.Line != 2 || f.Path != "f" || f.Example != tc.ex {
				t.Errorf("%q: finding %+v", tc.line, f)
			}
			if strings.Contains(f.Masked, realSecret) || f.Kind == Secret && f.Masked != "(secret hidden)" {
				t.Errorf("%q: shows %q", tc.line, f.Masked)
			}
		}
		if !slices.Equal(kinds, tc.want) {
			t.Errorf("%q: found %v, want %v", tc.line, kinds, tc.want)
		}
	}
}

func TestMaskID(t *testing.T) {
	if got := MaskID(realID); got != "AKIA****BCDE" {
		t.Errorf("MaskID = %q", got)
	}
	if got := MaskID("short"); got != "****" {
		t.Errorf("MaskID(short) = %q", got)
	}
}

func write(t *testing.T, root, rel, text string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanSkips(t *testing.T) {
	root := t.TempDir()
	leak := "aws_access_key_id = " + realID + "\n"
	for _, rel := range []string{
		"found/app.env", "found/deep/x/config.yml", "logs/keep.log", "docs/keep.md",
		".git/config", "node_modules/p/index.js", "sub/vendor/m/x.go",
		"build/out.txt", "sub/build/out.txt", "tmp.log", "logs/a.log", "docs/private/x.md",
		"sub/local.env", "sub/deep/gen/x.txt", "testdata/fixture.txt", "excluded/x.md",
	} {
		write(t, root, rel, leak)
	}
	write(t, root, "found/bin", "\x00\x01"+leak)
	write(t, root, "big.txt", strings.Repeat("x", 200)+leak)
	write(t, root, ".gitignore", "# comment\n\nbuild/\n*.log\n!logs/keep.log\n/docs/private\n**/gen/**\n")
	write(t, root, "sub/.gitignore", "*.env\n")
	if err := os.Symlink(filepath.Join(root, "found", "app.env"), filepath.Join(root, "link.env")); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(root, Options{Exclude: []string{"testdata/**", "excluded/"}, MaxFileSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range res.Findings {
		rel, _ := filepath.Rel(root, f.Path)
		files = append(files, filepath.ToSlash(rel))
	}
	slices.Sort(files)
	want := []string{"docs/keep.md", "found/app.env", "found/deep/x/config.yml", "logs/keep.log"}
	if !slices.Equal(files, want) {
		t.Errorf("found keys in %q, want %q", files, want)
	}
	if len(res.Skipped) != 1 || !strings.HasSuffix(res.Skipped[0].Path, "big.txt") {
		t.Errorf("Skipped = %+v, want big.txt", res.Skipped)
	}

	// A file named on its own is read whatever .gitignore says.
	res, err = Scan(filepath.Join(root, "tmp.log"), Options{})
	if err != nil || len(res.Findings) != 1 {
		t.Errorf("Scan(tmp.log) = %+v, %v", res, err)
	}
	if _, err := Scan(filepath.Join(root, "missing"), Options{}); err == nil {
		t.Error("Scan of a missing path did not fail")
	}
	if _, err := Scan(root, Options{Exclude: []string{"[x"}}); err == nil {
		t.Error("a malformed --exclude was accepted")
	}
}

func TestCleanFolder(t *testing.T) {
	root := t.TempDir()
	write(t, root, "README.md", "# hello\nsecret handshake\n")
	res, err := Scan(root, Options{})
	if err != nil || len(res.Findings) != 0 || res.Files != 1 {
		t.Errorf("Scan = %+v, %v", res, err)
	}
}

func FuzzLines(f *testing.F) {
	f.Add([]byte("aws_secret_access_key = " + realSecret + "\naws_access_key_id=" + realID))
	f.Add([]byte("AKIAIOSFODNN7EXAMPLE ASIA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fi := range Lines("f", data) {
			if fi.Line < 1 || !strings.Contains(string(data), fi.Value) {
				t.Fatalf("finding %+v is not in the input", fi)
			}
			if fi.Kind == Secret && (len(fi.Value) != 40 || strings.Contains(fi.Masked, fi.Value)) {
				t.Fatalf("bad secret finding %+v", fi)
			}
			if fi.Kind != Secret && (len(fi.Value) != 20 || fi.Masked != MaskID(fi.Value)) {
				t.Fatalf("bad key ID finding %+v", fi)
			}
		}
	})
}
