//go:build unix

package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestEnsure(t *testing.T) {
	root := t.TempDir()
	fresh := filepath.Join(root, "fresh")
	if err := Ensure(fresh); err != nil || mode(t, fresh) != fs.ModeDir|0o700 {
		t.Errorf("a new folder: %v, mode %v", err, mode(t, fresh))
	}
	open := filepath.Join(root, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(open); err != nil || mode(t, open) != fs.ModeDir|0o700 {
		t.Errorf("an existing folder of mode 0777: %v, mode %v; want it made 0700", err, mode(t, open))
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(fresh, link); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(link); err != nil {
		t.Errorf("the user's own link to the user's own folder: %v", err)
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(file); err == nil {
		t.Error("a file was taken for a folder")
	}
	shared := filepath.Join(root, "shared") // writable by all, not sticky
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(filepath.Join(shared, "broker")); err == nil {
		t.Error("a folder in a parent anybody may rename it out of was accepted")
	}
	if err := os.Chmod(shared, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(filepath.Join(shared, "broker")); err != nil {
		t.Errorf("a folder in a sticky parent such as /tmp: %v", err)
	}
}

func TestDir(t *testing.T) {
	root := t.TempDir()
	xdg, tmp, cache := filepath.Join(root, "run"), filepath.Join(root, "tmp"), filepath.Join(root, "cache")
	for _, d := range []string{xdg, tmp, cache} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("XDG_RUNTIME_DIR", xdg)
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_CACHE_HOME", cache)
	if got, err := Dir(); err != nil || got != filepath.Join(xdg, "broker") {
		t.Errorf("with XDG_RUNTIME_DIR: %q, %v", got, err)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	inTmp := filepath.Join(tmp, fmt.Sprintf("broker-%d", os.Getuid()))
	if got, err := Dir(); err != nil || got != inTmp {
		t.Errorf("without XDG_RUNTIME_DIR: %q, %v; want %s", got, err, inTmp)
	}
	// Something else in its place: the cache folder, every time.
	if err := os.Remove(inTmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inTmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if got, err := Dir(); err != nil || got != filepath.Join(cache, "broker", "run") {
			t.Errorf("with %s taken: %q, %v", inTmp, got, err)
		}
	}
}

func TestForeignErrorHint(t *testing.T) {
	var err error = &ForeignError{Path: "/run/user/1000/broker", UID: 0}
	var f *ForeignError
	if !errors.As(err, &f) || f.Hint() != "it was probably made by `sudo -E broker`; remove it with: sudo rm -r /run/user/1000/broker" {
		t.Errorf("hint %q", f.Hint())
	}
}
