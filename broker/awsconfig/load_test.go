package awsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "config")
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != path || len(f.ProfileNames()) != 0 || f.Has("default") {
		t.Errorf("missing file: %+v", f)
	}
	if _, err := f.Profile("default"); !errors.Is(err, ErrProfileNotFound) {
		t.Errorf("Profile on missing file: %v", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, MaxFileSize+1); err != nil { // sparse: cheap
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrFileTooLarge) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load = %v, want ErrFileTooLarge naming the file", err)
	}
	if _, err := Parse(path, make([]byte, MaxFileSize+1)); !errors.Is(err, ErrFileTooLarge) {
		t.Errorf("Parse = %v, want ErrFileTooLarge", err)
	}
}

// TestLoadStreams checks Load on a file bigger than its read buffer, with
// lines across buffer boundaries and a line longer than the buffer.
func TestLoadStreams(t *testing.T) {
	var sb strings.Builder
	for i := range 3000 {
		sb.WriteString("[profile p" + itoa(i) + "]\r\nregion = r" + itoa(i) + "\r\n; comment\r\ns3 =\r\n  x = 1\r\n\r\n")
	}
	long := strings.Repeat("v", 3*chunkSize)
	sb.WriteString("[profile long]\nexternal_id = " + long + "\nregion = after\n[profile last]\nregion = end") // no final newline
	path := writeConfig(t, sb.String())
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.data != nil {
		t.Fatal("Load kept the file in memory")
	}
	for _, name := range []string{"p0", "p1234", "p2999"} {
		if p, err := f.Profile(name); err != nil || p.Region != "r"+name[1:] {
			t.Errorf("Profile(%q) = %+v, %v", name, p, err)
		}
	}
	if p, err := f.Profile("long"); err != nil || p.ExternalID != long || p.Region != "after" {
		t.Errorf("Profile(long): region %q, %v", p.Region, err)
	}
	if p, err := f.Profile("last"); err != nil || p.Region != "end" {
		t.Errorf("Profile(last) = %+v, %v", p, err)
	}
	if n := len(f.ProfileNames()); n != 3002 {
		t.Errorf("%d names, want 3002", n)
	}

	// Errors far into the file have the right line number.
	bad := sb.String() + "\n[profile x]\nduration_seconds = nope\noops\n"
	lines := strings.Count(bad, "\n")
	if _, err := Load(writeConfig(t, bad)); syntax(lines, "not a [section]")(err) != "" {
		t.Error(syntax(lines, "not a [section]")(err))
	}
	bad = sb.String() + "\n[profile x]\nduration_seconds = nope\n"
	f, err = Load(writeConfig(t, bad))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Profile("x")
	if msg := syntax(strings.Count(bad, "\n"), "duration_seconds")(err); msg != "" {
		t.Error(msg)
	}
}

// TestLoadThenChange checks that Profile answers for the file as it is when
// the file changed after Load, not from a mix of both versions.
func TestLoadThenChange(t *testing.T) {
	path := writeConfig(t, "[profile a]\nregion = old\n[profile b]\nregion = b\n")
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("[profile zz]\n[profile a]\nregion = new, and longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := f.Profile("a"); err != nil || p.Region != "new, and longer" {
		t.Errorf("Profile(a) = %+v, %v", p, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Profile("a"); !errors.Is(err, ErrProfileNotFound) {
		t.Errorf("Profile after removal: %v", err)
	}
}

// TestLoadPipe reads a config that cannot be read twice, as from
// AWS_CONFIG_FILE=<(...).
func TestLoadPipe(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no /dev/fd")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString("[profile a]\nregion = piped\n")
		w.Close()
	}()
	f, err := Load("/dev/fd/" + itoa(int(r.Fd())))
	if err != nil {
		t.Skip(err) // no /dev/fd here
	}
	if p, err := f.Profile("a"); err != nil || p.Region != "piped" {
		t.Errorf("Profile(a) = %+v, %v", p, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	f, err := Load(writeConfig(t, awsVaultConfig))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 8 {
		go func() {
			_, err := f.Profile("foo-readonly")
			if err == nil && (!f.Has("base") || len(f.ProfileNames()) != 6) {
				err = errors.New("wrong answer")
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
