package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// appendLine is an edit: the file with one more line.
func appendLine(line string) func([]byte) ([]byte, error) {
	return func(old []byte) ([]byte, error) {
		return append(append([]byte{}, old...), line+"\n"...), nil
	}
}

// others lists what the folder holds besides the file and its lock.
func others(t *testing.T, dir, file string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != file && e.Name() != "."+file+".broker.lock" {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestEdit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	changed, err := Edit(path, appendLine("new"))
	if err != nil || !changed {
		t.Fatalf("Edit = %v, %v", changed, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\nnew\n" {
		t.Errorf("file holds %q", got)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if o := others(t, dir, "config"); len(o) != 0 {
		t.Errorf("the folder holds %v: a temporary file was left", o)
	}
	// No change: nothing written.
	before, _ := os.Stat(path)
	changed, err = Edit(path, func(old []byte) ([]byte, error) { return old, nil })
	if after, _ := os.Stat(path); err != nil || changed || !os.SameFile(before, after) {
		t.Errorf("an edit that changes nothing: %v, %v, same file %v", changed, err, os.SameFile(before, after))
	}
	// An error from the edit is returned as it is, and nothing changes.
	boom := errors.New("boom")
	if _, err := Edit(path, func([]byte) ([]byte, error) { return nil, boom }); err != boom {
		t.Errorf("Edit = %v, want the edit's own error", err)
	}
}

func TestEditNewFileAndFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "config")
	// Nothing to write: no folder made.
	if changed, err := Edit(path, func(old []byte) ([]byte, error) { return old, nil }); changed || err != nil {
		t.Fatalf("Edit = %v, %v", changed, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an edit with nothing to write made a folder")
	}
	if _, err := Edit(path, appendLine("x")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		di, _ := os.Stat(filepath.Dir(path))
		if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
			t.Errorf("new file %v, folder %v; want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
		}
	}
}

// TestEditSymlinks: a link is followed and its target edited; a dangling
// link's target is created; the link stays a link.
func TestEditSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	dotfiles := filepath.Join(dir, "dotfiles")
	if err := os.Mkdir(dotfiles, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config")
	if err := os.Symlink("dotfiles/aws/config", link); err != nil { // dangling, folder too
		t.Fatal(err)
	}
	for _, line := range []string{"one", "two"} {
		if _, err := Edit(link, appendLine(line)); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dotfiles, "aws", "config"))
	if err != nil || string(got) != "one\ntwo\n" {
		t.Errorf("target holds %q (%v)", got, err)
	}
}

// TestEditRefusesHardLinks: the other name would keep the old contents.
func TestEditRefusesHardLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no link count on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(path, filepath.Join(dir, "backup")); err != nil {
		t.Fatal(err)
	}
	_, err := Edit(path, func([]byte) ([]byte, error) { return []byte("gone\n"), nil })
	var le *LinksError
	if !errors.As(err, &le) || le.Links != 2 {
		t.Fatalf("Edit = %v, want a LinksError", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "secret\n" {
		t.Error("the file changed")
	}
}

// TestEditConcurrent: editors of one file take turns; none loses another's
// line.
func TestEditConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Edit(path, appendLine(fmt.Sprintf("line %d", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	for i := range n {
		if !bytes.Contains(got, fmt.Appendf(nil, "line %d\n", i)) {
			t.Errorf("line %d was lost", i)
		}
	}
}

// rewriteInPlace writes data into path the way `aws configure set` does:
// open with O_TRUNC, write, close; the inode stays.
func rewriteInPlace(t *testing.T, path, data string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Error(err)
		return
	}
	f.WriteString(data)
	f.Close()
}

func setHooks(t *testing.T, before, after func(string)) {
	testHookBeforeCheck, testHookAfterRename = before, after
	t.Cleanup(func() { testHookBeforeCheck, testHookAfterRename = nil, nil })
}

// TestEditForeignWriteBeforeRename: another program rewrites the file in
// place between broker's read and its rename. The edit starts over from
// what that program wrote, and both changes are there.
func TestEditForeignWriteBeforeRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	calls := 0
	setHooks(t, func(p string) {
		if calls++; calls == 1 {
			rewriteInPlace(t, p, "a\nforeign secret\n")
		}
	}, nil)
	edits := 0
	changed, err := Edit(path, func(old []byte) ([]byte, error) {
		edits++
		return append(append([]byte{}, old...), "broker\n"...), nil
	})
	if err != nil || !changed {
		t.Fatalf("Edit = %v, %v", changed, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nforeign secret\nbroker\n" {
		t.Errorf("file holds %q, want both changes", got)
	}
	if edits != 2 {
		t.Errorf("the edit ran %d times, want 2", edits)
	}
}

// TestEditForeignWriteAfterCheck: a program that opened the file before
// the rename writes to it just after broker's last check. Its change would
// be lost with the replaced inode; broker applies its edit again on top.
func TestEditForeignWriteAfterCheck(t *testing.T) {
	if !keepOpenAcrossRename {
		t.Skip("the replaced file cannot stay open on this system")
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var foreign *os.File
	opened := false
	setHooks(t, func(p string) {
		if !opened {
			opened = true
			var err error
			if foreign, err = os.OpenFile(p, os.O_WRONLY, 0); err != nil {
				t.Fatal(err)
			}
		}
	}, func(string) {
		if foreign != nil {
			foreign.Truncate(0)
			foreign.WriteAt([]byte("a\nforeign\n"), 0)
			foreign.Close()
			foreign = nil
		}
	})
	if _, err := Edit(path, appendLine("broker")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nforeign\nbroker\n" {
		t.Errorf("file holds %q, want both changes", got)
	}
}

// TestEditBusy: a file that changes at every attempt is left as the other
// program wrote it, and Edit says why it gave up.
func TestEditBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	setHooks(t, func(p string) {
		n++
		rewriteInPlace(t, p, strings.Repeat("x", n)+"\n")
	}, nil)
	_, err := Edit(path, appendLine("broker"))
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Edit = %v, want ErrBusy", err)
	}
	if got, _ := os.ReadFile(path); string(got) != strings.Repeat("x", n)+"\n" {
		t.Errorf("file holds %q, want the other program's last write", got)
	}
}

// TestEditRemovesLeftovers: what a killed edit left beside the file (this
// version's names and the older .NAME.DIGITS.tmp) goes at the next edit;
// other files stay.
func TestEditRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	leftovers := []string{".credentials.broker-0123abcd.tmp", ".credentials.2817263.tmp"}
	keep := []string{".credentials.notes.tmp", ".config.2817263.tmp", "credentials.bak"}
	for _, name := range append(append([]string{}, leftovers...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Edit(path, appendLine("x")); err != nil {
		t.Fatal(err)
	}
	for _, name := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there", name)
		}
	}
	for _, name := range keep {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s was removed: %v", name, err)
		}
	}
}

// TestEditRetriesATornRead: an edit that fails on contents another program
// was rewriting at that moment runs again on the file as it is then; one
// that fails on a file nobody touches returns its error.
func TestEditRetriesATornRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	torn := errors.New("line 2 is not key = value")
	calls := 0
	_, err := Edit(path, func(old []byte) ([]byte, error) {
		if calls++; calls == 1 {
			rewriteInPlace(t, path, "a\nb\n")
			return nil, torn
		}
		return append(append([]byte{}, old...), "broker\n"...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nb\nbroker\n" {
		t.Errorf("file holds %q", got)
	}
	if _, err := Edit(path, func([]byte) ([]byte, error) { return nil, torn }); err != torn {
		t.Errorf("Edit = %v, want the edit's error", err)
	}
}
