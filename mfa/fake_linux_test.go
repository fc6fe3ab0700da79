//go:build linux

package mfa

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakes is a folder of fake programs put first on PATH. Each fake records
// its arguments, one per line, in NAME.args (runs separated by a line
// "--run--") and prints the next line of its codes, repeating the last.
type fakes struct {
	t   *testing.T
	dir string
}

// fakePATH makes a folder for fakes the only thing on PATH besides the
// folders holding sh, sed and the like. Tests using it are not parallel.
func fakePATH(t *testing.T) *fakes {
	t.Helper()
	f := &fakes{t: t, dir: t.TempDir()}
	t.Setenv("PATH", f.dir+string(os.PathListSeparator)+"/usr/bin:/bin")
	return f
}

// add writes fake program name that prints codes, one per run; then it
// runs tail, a shell snippet ("exit 1" for a cancelled dialog).
func (f *fakes) add(name string, codes []string, tail string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name+".codes"), []byte(strings.Join(codes, "\n")+"\n"), 0o600); err != nil {
		f.t.Fatal(err)
	}
	script := `#!/bin/sh
d='` + f.dir + `'
{ echo --run--; for a in "$@"; do printf '%s\n' "$a"; done; } >> "$d/` + name + `.args"
n=$(cat "$d/` + name + `.n" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$d/` + name + `.n"
line=$(sed -n "${n}p" "$d/` + name + `.codes")
[ -n "$line" ] || line=$(tail -n 1 "$d/` + name + `.codes")
printf '%s\n' "$line"
` + tail + "\n"
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(script), 0o700); err != nil {
		f.t.Fatal(err)
	}
}

// runs returns the arguments of each run of the fake name.
func (f *fakes) runs(name string) [][]string {
	b, _ := os.ReadFile(filepath.Join(f.dir, name+".args"))
	var runs [][]string
	for _, run := range strings.Split(string(b), "--run--\n")[1:] {
		runs = append(runs, strings.Split(strings.TrimSuffix(run, "\n"), "\n"))
	}
	return runs
}

// memoryCodes is an in-memory UsedCodes.
type memoryCodes struct {
	mu   sync.Mutex
	last map[string]usedCode
}

type usedCode struct {
	code string
	at   time.Time
}

func usedJustNow(serial, code string) *memoryCodes {
	m := &memoryCodes{last: map[string]usedCode{}}
	m.Used(serial, code, time.Now())
	return m
}

func (m *memoryCodes) LastUsed(serial string) (string, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.last[serial]
	return u.code, u.at, ok
}

func (m *memoryCodes) Used(serial, code string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last[serial] = usedCode{code, at}
}

// fakeTTY is a regular file standing in for the terminal: what is written
// to it can be read back.
func fakeTTY(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tty")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// removeAll empties dir.
func removeAll(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
