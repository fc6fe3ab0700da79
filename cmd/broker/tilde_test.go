//go:build linux

package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTildeConfigPath: AWS_CONFIG_FILE='~/cfg' (a literal ~, as a
// quoted shell line leaves it) names ~/cfg in the home folder, as botocore
// expands it: `broker add --mfa-serial` writes it there and creates no
// folder named "~" in the working folder, and export, the client and the
// agent read it.
func TestTildeConfigPath(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("tilde")
	env := []string{"AWS_CONFIG_FILE=~/cfg", "AWS_ACCESS_KEY_ID=" + u.keyID, "AWS_SECRET_ACCESS_KEY=" + u.secret}
	r := w.cmd(env, brokerBin, "add", "--env", "--mfa-serial", u.serial, "dev")
	if r.code != 0 {
		t.Fatalf("add: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(w.home, "~")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a folder named ~ in the working folder: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(w.home, "cfg"))
	if err != nil || !strings.Contains(string(b), u.serial) {
		t.Fatalf("~/cfg: %v\n%s", err, b)
	}
	// The world's own config stays as it was (none).
	if _, err := os.Stat(w.config); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the default config was written: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(w.home, "cfg"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("mfa_process = " + w.mfaProcess("123456") + "\n")
	f.Close()
	for _, bin := range []string{brokerBin, clientBin, clientBin} {
		args := []string{"export", "dev"}
		if bin == clientBin {
			args = []string{"dev"}
		}
		r := w.cmd([]string{"AWS_CONFIG_FILE=~/cfg"}, bin, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", filepath.Base(bin), r.code, r.stderr)
		}
		decodeExport(t, r.stdout)
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("%d MFA codes for three calls, want 1", n)
	}
}
