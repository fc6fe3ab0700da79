package keyscan

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

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

// fileState is what a scan says of one file: found in it, and how git sees it.
type fileState struct {
	rel                string
	tracked, localOnly bool
}

func states(t *testing.T, root string, res Result) []fileState {
	t.Helper()
	seen := map[string]bool{}
	var out []fileState
	for _, f := range res.Findings {
		rel, err := filepath.Rel(root, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		if !seen[rel] {
			seen[rel] = true
			out = append(out, fileState{rel, f.Tracked, f.LocalOnly})
		}
	}
	slices.SortFunc(out, func(a, b fileState) int { return strings.Compare(a.rel, b.rel) })
	return out
}

// TestScanSkips: outside git, what a scan skips, and what .gitignore
// files mark local only (read all the same).
func TestScanSkips(t *testing.T) {
	root := t.TempDir()
	leak := "aws_access_key_id = " + newGen(6).id("AKIA") + "\n"
	for _, rel := range []string{
		"found/app.env", "logs/keep.log", "build/out.txt", "sub/build/out.txt", "tmp.log", "logs/a.log",
		"docs/private/x.md", "sub/local.env", "sub/deep/gen/x.txt",
		".git/config", "node_modules/p/index.js", "sub/vendor/m/x.go", "testdata/fixture.txt", "excluded/x.md",
	} {
		write(t, root, rel, leak)
	}
	write(t, root, "found/bin", "\x00\x01"+leak)
	write(t, root, "big.txt", strings.Repeat("x", 200)+leak)
	write(t, root, ".gitignore", "# comment\n\nbuild/\n*.log\n!logs/keep.log\n/docs/private\n**/gen/**\n")
	write(t, root, "sub/.gitignore", "*.env\n")
	// Symlinks in the tree, to a file and to a folder, are not followed.
	if err := os.Symlink(filepath.Join(root, "found", "app.env"), filepath.Join(root, "link.env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "found"), filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(root, Options{Exclude: []string{"testdata/**", "excluded/"}, PieceSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []fileState{
		{"big.txt", false, false}, // larger than a piece: read in pieces
		{"build/out.txt", false, true}, {"docs/private/x.md", false, true}, {"found/app.env", false, false},
		{"logs/a.log", false, true}, {"logs/keep.log", false, false}, {"sub/build/out.txt", false, true},
		{"sub/deep/gen/x.txt", false, true}, {"sub/local.env", false, true}, {"tmp.log", false, true},
	}
	if got := states(t, root, res); !slices.Equal(got, want) {
		t.Errorf("found keys in\n%v\nwant\n%v", got, want)
	}
	if len(res.Skipped) != 0 || res.Binary != 1 { // found/bin
		t.Errorf("Skipped = %+v, %d binary files, want none and 1", res.Skipped, res.Binary)
	}
	if res.Files != len(want)+2 { // and the two .gitignore files
		t.Errorf("Files = %d, want %d", res.Files, len(want)+2)
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

// TestScanSymlinkRoot: a symlink named as root is followed, to a folder
// (~/src -> /data/src) as to a file, and the findings are named under it;
// symlinks inside stay unfollowed.
func TestScanSymlinkRoot(t *testing.T) {
	g := newGen(14)
	top := t.TempDir()
	repo := filepath.Join(top, "repo")
	for _, rel := range []string{"app.env", "sub/deploy.sh"} {
		write(t, repo, rel, "aws_access_key_id = "+g.id("AKIA")+"\naws_secret_access_key = "+g.secret()+"\n")
	}
	write(t, top, "elsewhere/x.env", "aws_access_key_id = "+g.id("AKIA")+"\n")
	if err := os.Symlink(filepath.Join(top, "elsewhere"), filepath.Join(repo, "inner")); err != nil {
		t.Fatal(err)
	}
	for _, link := range []struct{ name, target string }{{"repolink", "repo"}, {"abs", repo}, {"chain", "repolink"}} {
		if err := os.Symlink(link.target, filepath.Join(top, link.name)); err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(top, link.name)
		res, err := Scan(root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []fileState{{"app.env", false, false}, {"sub/deploy.sh", false, false}}
		if got := states(t, root, res); !slices.Equal(got, want) || res.Files != 2 || len(res.Findings) != 4 {
			t.Errorf("Scan(%s): %d files, found in %v, want %v", link.name, res.Files, got, want)
		}
		for _, f := range res.Findings {
			if !strings.HasPrefix(f.Path, root+string(filepath.Separator)) || strings.Contains(f.Path, "//") {
				t.Errorf("Scan(%s): finding in %q", link.name, f.Path)
			}
		}
	}
	if err := os.Symlink(filepath.Join("repo", "app.env"), filepath.Join(top, "file.env")); err != nil {
		t.Fatal(err)
	}
	if res, err := Scan(filepath.Join(top, "file.env"), Options{}); err != nil || res.Files != 1 || len(res.Findings) != 2 {
		t.Errorf("Scan of a symlink to a file: %+v, %v", res, err)
	}
}

// TestScanNamedFile: a file named as root that cannot be read is an
// error; a binary one is listed as skipped, with why.
func TestScanNamedFile(t *testing.T) {
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip("no /proc/self/mem, a file whose reading fails")
	}
	if _, err := Scan("/proc/self/mem", Options{}); err == nil {
		t.Error("Scan of a file that cannot be read did not fail")
	}
	root := t.TempDir()
	write(t, root, "logo.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	res, err := Scan(filepath.Join(root, "logo.png"), Options{})
	if err != nil || res.Files != 0 || len(res.Skipped) != 1 || res.Skipped[0].Path != filepath.Join(root, "logo.png") ||
		!strings.HasPrefix(res.Skipped[0].Reason, "binary") {
		t.Errorf("Scan(logo.png) = %+v, %v", res, err)
	}
}

// TestScanPieces: a file larger than a piece is read in pieces and gives
// what reading it whole gives, the same findings for the same reasons on
// the same lines, whatever the piece size; so does a file of one long
// line. A 5 MiB Terraform state with keys in its middle and at its end is
// read with the default piece size.
func TestScanPieces(t *testing.T) {
	g := newGen(15)
	var b strings.Builder
	// Groups whose findings need the lines around them, apart enough
	// (six lines) that only a group's own lines give them.
	for i := range 300 {
		switch i % 5 {
		case 0:
			b.WriteString("- name: AWS_SECRET_ACCESS_KEY\n\n  value: " + g.secret() + "\n")
		case 1:
			b.WriteString(g.id("ASIA") + "\n\n\n\n" + g.secret() + "\n")
		case 2:
			b.WriteString(g.secret() + "\n\n\n\n" + g.id("AKIA") + "\n")
		case 3:
			b.WriteString("aws_access_key_id = " + g.id("AKIA") + "\naws_secret_access_key = " + g.secret() + "\n")
		default:
			b.WriteString("commit " + g.from("0123456789abcdef", 40) + "\n\n    nothing here (" + g.secret() + ")\n")
		}
		b.WriteString(strings.Repeat("x = 1\n", 6))
	}
	var pieces []int
	for p := 1500; p < 3000; p += 97 {
		pieces = append(pieces, p)
	}
	lines := b.String()
	long := strings.ReplaceAll(lines, "\n", " ; ")
	root := t.TempDir()
	for _, tc := range []struct {
		name, text string
		pieces     []int
	}{
		{"lines", lines, pieces},
		{"one line", long, []int{2000, 3333}},
	} {
		write(t, root, tc.name, tc.text)
		want := Lines(filepath.Join(root, tc.name), []byte(tc.text))
		if len(want) < 300 {
			t.Fatalf("%s: %d findings in the whole", tc.name, len(want))
		}
		for _, piece := range tc.pieces {
			res, err := Scan(filepath.Join(root, tc.name), Options{PieceSize: piece})
			if err != nil || res.Files != 1 {
				t.Fatalf("%s in pieces of %d: %+v, %v", tc.name, piece, res.Skipped, err)
			}
			got := res.Findings
			if tc.name == "one line" { // all on line 1, in another order
				byValue := func(a, b Finding) int { return strings.Compare(a.Value, b.Value) }
				want = slices.Clone(want)
				slices.SortFunc(want, byValue)
				slices.SortFunc(got, byValue)
			}
			if len(got) != len(want) {
				t.Errorf("%s in pieces of %d: %d findings, whole: %d", tc.name, piece, len(got), len(want))
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s in pieces of %d: finding %d on line %d (%s), whole: line %d (%s)", tc.name, piece, i,
						got[i].Line, got[i].Reason, want[i].Line, want[i].Reason)
					break
				}
			}
		}
	}

	// A Terraform state over 4 MiB, named as root, as in a walk.
	id, s, id2, s2 := g.id("AKIA"), g.secret(), g.id("AKIA"), g.secret()
	var tf strings.Builder
	tf.WriteString("{\n  \"version\": 4,\n  \"resources\": [\n")
	for i := 0; tf.Len() < 5<<20; i++ {
		if i == 20000 {
			tf.WriteString("    {\"type\": \"aws_iam_access_key\", \"id\": \"" + id + "\", \"secret\": \"" + s + "\"},\n")
		}
		tf.WriteString(fmt.Sprintf("    {\"type\": \"aws_s3_object\", \"key\": \"logs/%08d.gz\", \"etag\": \"%s\"},\n", i, g.from("0123456789abcdef", 32)))
	}
	tf.WriteString("    {\"type\": \"aws_iam_access_key\", \"id\": \"" + id2 + "\",\n     \"secret\": \"" + s2 + "\"}\n  ]\n}\n")
	write(t, root, "infra/terraform.tfstate", tf.String())
	for _, p := range []string{filepath.Join(root, "infra", "terraform.tfstate"), filepath.Join(root, "infra")} {
		res, err := Scan(p, Options{})
		if err != nil || res.Files != 1 || len(res.Skipped) != 0 || !slices.Equal(counted(res.Findings), []string{id, s, id2, s2}) {
			t.Errorf("Scan(%s): %d files, skipped %+v, %d findings, %v", p, res.Files, res.Skipped, len(res.Findings), err)
		}
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

// needGit is git's path; without git the test is skipped, or fails when
// BROKER_REQUIRE_INTEGRATION=1.
func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	// The user's git settings stay out of the test.
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, v := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"} {
		t.Setenv(v, "") // restored after the test
		os.Unsetenv(v)
	}
}

func git(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestScanGit: in a git work tree, files git tracks are scanned even when
// a .gitignore (the root's or a nested one) now lists them, and marked
// tracked; ignored files git does not track are scanned and marked local
// only; a nested repository below a folder that is none is asked too.
func TestScanGit(t *testing.T) {
	needGit(t)
	g := newGen(7)
	leak := func() string {
		return "aws_access_key_id = " + g.id("AKIA") + "\naws_secret_access_key = " + g.secret() + "\n"
	}
	top := t.TempDir()
	root := filepath.Join(top, "repo")
	for _, rel := range []string{"app.env", "sub/old.local", "src/config.py", "build/keep.txt"} {
		write(t, root, rel, leak())
	}
	git(t, root, "init", "-q")
	git(t, root, "add", "-A")
	git(t, root, "commit", "-qm", "first")
	// Later: ignore what was committed, and add files that stay untracked.
	write(t, root, ".gitignore", "*.env\nbuild/\n")
	write(t, root, "sub/.gitignore", "*.local\n")
	for _, rel := range []string{"local.env", "sub/new.local", "build/out.txt", "notes.txt"} {
		write(t, root, rel, leak())
	}
	write(t, root, ".git/leak", leak())
	// A repository of its own next to it, in a folder that is none.
	other := filepath.Join(top, "other")
	write(t, other, "tracked.txt", leak())
	git(t, other, "init", "-q")
	git(t, other, "add", "-A")
	git(t, other, "commit", "-qm", "first")
	write(t, other, "ignored.txt", leak())
	write(t, other, ".gitignore", "ignored.txt\n")

	res, err := Scan(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []fileState{
		{"app.env", true, false}, {"build/keep.txt", true, false}, {"build/out.txt", false, true},
		{"local.env", false, true}, {"notes.txt", false, false}, {"src/config.py", true, false},
		{"sub/new.local", false, true}, {"sub/old.local", true, false},
	}
	if got := states(t, root, res); !slices.Equal(got, want) {
		t.Errorf("in the repository:\n%v\nwant\n%v", got, want)
	}
	for _, f := range res.Findings {
		if f.Kind == Secret && f.Reason != "secret next to key ID" {
			t.Errorf("%s: reason %q", f.Path, f.Reason)
		}
	}

	// One file, named on its own.
	res, err = Scan(filepath.Join(root, "app.env"), Options{})
	if err != nil || len(res.Findings) != 2 || !res.Findings[0].Tracked || res.Findings[0].LocalOnly {
		t.Errorf("Scan(app.env) = %+v, %v", res, err)
	}
	res, err = Scan(filepath.Join(root, "local.env"), Options{})
	if err != nil || len(res.Findings) != 2 || res.Findings[0].Tracked || !res.Findings[0].LocalOnly {
		t.Errorf("Scan(local.env) = %+v, %v", res, err)
	}

	// From above both: each repository answers for its own files.
	res, err = Scan(top, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := states(t, top, res)
	for _, w := range []fileState{{"other/ignored.txt", false, true}, {"other/tracked.txt", true, false}, {"repo/app.env", true, false}, {"repo/local.env", false, true}} {
		if !slices.Contains(got, w) {
			t.Errorf("scanning above both: %v lacks %v", got, w)
		}
	}
	if len(got) != len(want)+2 {
		t.Errorf("scanning above both: %d files with findings, want %d", len(got), len(want)+2)
	}
}

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	var b bytes.Buffer
	u := utf16.Encode([]rune(s))
	if bom {
		u = append([]uint16{0xFEFF}, u...)
	}
	for _, c := range u {
		if bigEndian {
			b.Write([]byte{byte(c >> 8), byte(c)})
		} else {
			b.Write([]byte{byte(c), byte(c >> 8)})
		}
	}
	return b.Bytes()
}

// TestScanUTF16: a credentials file saved as UTF-16 (PowerShell 5's
// Out-File and > write UTF-16LE with a byte order mark) is read.
func TestScanUTF16(t *testing.T) {
	g := newGen(8)
	root := t.TempDir()
	for _, tc := range []struct {
		name          string
		bigEndian, bo bool
		encoding      string
		first         string // a line before the keys
	}{
		{"ps5.txt", false, true, "UTF-16LE", ""},
		{"be.txt", true, true, "UTF-16BE", ""},
		{"nobom.txt", false, false, "UTF-16LE", ""},
		// Without a byte order mark, characters beyond Latin-1.
		{"nobom-euro.txt", false, false, "UTF-16LE", "# café, 5 € a month\r\n"},
		{"nobom-cyrillic.txt", false, false, "UTF-16LE", "# ключ доступа для деплоя\r\n"},
		{"nobom-be-cjk.txt", true, false, "UTF-16BE", "# 本番環境の鍵\r\n"},
	} {
		id, s := g.id("AKIA"), g.secret()
		text := tc.first + "[default]\r\naws_access_key_id = " + id + "\r\naws_secret_access_key = " + s + "\r\n"
		if err := os.WriteFile(filepath.Join(root, tc.name), utf16Bytes(text, tc.bigEndian, tc.bo), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(filepath.Join(root, tc.name), Options{})
		if err != nil || res.Files != 1 || len(res.Findings) != 2 {
			t.Fatalf("%s: %+v, %v", tc.name, res, err)
		}
		for i, want := range []string{id, s} {
			f := res.Findings[i]
			if f.Value != want || f.Line != i+2+strings.Count(tc.first, "\n") || !strings.HasSuffix(f.Reason, ", in a "+tc.encoding+" file") {
				t.Errorf("%s: finding %d: line %d, reason %q", tc.name, i, f.Line, f.Reason)
			}
		}
	}
	// UTF-8 with a byte order mark; binary data is still skipped.
	id := g.id("AKIA")
	write(t, root, "bom.txt", "\xEF\xBB\xBFkey="+id+"\n")
	write(t, root, "bin", "\x89PNG\x00\x00\x12"+id+"\x00\xff\xfe")
	res, err := Scan(root, Options{})
	if err != nil || res.Files != 7 || len(res.Findings) != 13 || res.Binary != 1 {
		t.Errorf("folder: %d files, %d binary, %d findings, %v", res.Files, res.Binary, len(res.Findings), err)
	}
}

// FuzzText: decoding never fails, and UTF-16 text round-trips.
func FuzzText(f *testing.F) {
	f.Add("aws_access_key_id = x\r\n", true)
	f.Add("ключ = ☃\n", false)
	f.Add("# café, 5 € a month\r\nregion = eu-west-1\r\n", false) // no BOM: ASCII, then beyond Latin-1
	f.Add("# 本番 key\r\noutput = json\r\n", true)
	f.Fuzz(func(t *testing.T, s string, bigEndian bool) {
		out, enc, ok := text(utf16Bytes(s, bigEndian, true))
		if !ok || enc == "" || !strings.HasPrefix(enc, "UTF-16") {
			t.Fatalf("UTF-16 with a BOM: ok %v, encoding %q", ok, enc)
		}
		if strings.ToValidUTF8(s, "\uFFFD") == s && string(out) != s {
			t.Fatalf("UTF-16 round trip: %q became %q", s, out)
		}
		text([]byte(s)) // any bytes: no panic
		// Without a byte order mark: text mostly in Latin-1 (so that the
		// right byte order is the one with more ASCII) round-trips.
		u := utf16.Encode([]rune(s))
		latin1, ok := 0, len(u) >= 4 && len(u) < 4000 && utf8.ValidString(s)
		for _, c := range u {
			ok = ok && c != 0xFEFF && c != 0xFFFE && (c >= 0x100 || textByte(byte(c)))
			if c < 0x100 {
				latin1++
			}
		}
		b := utf16Bytes(s, bigEndian, false)
		if ok && 2*latin1 > len(u) && !bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}) {
			out, enc, ok := text(b)
			if want := map[bool]string{false: "UTF-16LE", true: "UTF-16BE"}[bigEndian]; !ok || enc != want || string(out) != s {
				t.Fatalf("UTF-16 without a BOM: %q read as %q (%s, %v)", s, out, enc, ok)
			}
		}
	})
}
