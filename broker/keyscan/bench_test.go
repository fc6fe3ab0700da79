package keyscan

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchTree writes n files into root, 100 to a folder: source, config and
// data files of 0.5 to 6 KiB, one in 100 holding a key ID and a secret.
func benchTree(tb testing.TB, root string, n int) {
	g := newGen(9)
	bodies := []string{
		"package app\n\nimport \"os\"\n\n// Handler serves one request.\nfunc Handler(name string) error {\n\tif name == \"\" {\n\t\treturn os.ErrNotExist\n\t}\n\treturn nil\n}\n",
		"import boto3\nimport os\n\n\ndef upload(bucket, key, body):\n    s3 = boto3.client(\"s3\", region_name=os.environ.get(\"AWS_REGION\"))\n    s3.put_object(Bucket=bucket, Key=key, Body=body)\n",
		"{\n  \"name\": \"app\",\n  \"version\": \"1.2.3\",\n  \"dependencies\": {\"left-pad\": \"^1.3.0\"},\n  \"integrity\": \"sha512-{{b64-88}}\"\n}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n",
		"commit {{hex40}}\nAuthor: A <a@example.com>\n\n    fix the secret rotation job ({{uuid}})\n",
	}
	for i := range n {
		var b strings.Builder
		for b.Len() < 512+(i*37)%(6<<10) {
			text, _ := g.expandFuzz(bodies[(i+b.Len())%len(bodies)])
			b.WriteString(text)
		}
		if i%100 == 50 {
			b.WriteString("aws_access_key_id = " + g.id("AKIA") + "\naws_secret_access_key = " + g.secret() + "\n")
		}
		p := filepath.Join(root, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.txt", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				tb.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// readAll is the floor: walk the tree and read every file, nothing more.
func readAll(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		_, err = os.ReadFile(p)
		n++
		return err
	})
	return n, err
}

// BenchmarkScan10k scans a folder of 10,000 files (page cache warm) and,
// in the same run, times the floor (walking it and reading every file on
// one goroutine); it reports both in files per second and their ratio.
// Then the same folder as a git work tree ("git"), where Scan also runs
// git ls-files twice, against the plain folder's scan.
//
//	go test -run XXX -bench Scan10k ./broker/keyscan/
func BenchmarkScan10k(b *testing.B) {
	const n = 10_000
	root := b.TempDir()
	benchTree(b, root, n)
	floor := func() error {
		if got, err := readAll(root); err != nil || got < n {
			return fmt.Errorf("floor read %d files: %v", got, err)
		}
		return nil
	}
	b.Run("folder", func(b *testing.B) { benchScan(b, root, n, floor, "floor") })
	repo := b.TempDir()
	b.Run("git", func(b *testing.B) {
		needGit(b)
		if _, err := os.Stat(filepath.Join(repo, ".git")); err != nil { // once, for -count
			benchTree(b, repo, n)
			git(b, repo, "init", "-q")
			git(b, repo, "add", "-A")
			git(b, repo, "commit", "-qm", "tree")
		}
		benchScan(b, repo, n, func() error {
			_, err := Scan(root, Options{})
			return err
		}, "folder")
	})
}

// benchScan times Scan of root against base, in turns, after one round
// to warm the page cache (the first read of files just written is slow).
func benchScan(b *testing.B, root string, n int, base func() error, baseName string) {
	if err := base(); err != nil {
		b.Fatal(err)
	}
	if _, err := Scan(root, Options{}); err != nil {
		b.Fatal(err)
	}
	var scan, floor time.Duration
	for b.Loop() {
		start := time.Now()
		if err := base(); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(start)
		start = time.Now()
		res, err := Scan(root, Options{})
		scan += time.Since(start)
		if err != nil || res.Files < n || len(res.Findings) != 2*n/100 {
			b.Fatalf("scan: %d files, %d findings, %v", res.Files, len(res.Findings), err)
		}
	}
	b.ReportMetric(float64(n*b.N)/scan.Seconds(), "files/s")
	b.ReportMetric(float64(n*b.N)/floor.Seconds(), baseName+"-files/s")
	b.ReportMetric(scan.Seconds()/floor.Seconds(), "x-"+baseName)
}
