package awsconfig

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSetValue(t *testing.T) {
	cases := []struct {
		name, before, profile, key, value, after string
		changed                                  bool
	}{
		{"adds after the last key", "# top\n[profile a]\nregion = x\n\n# about b\n[profile b]\n", "a", "mfa_serial", "arn:s",
			"# top\n[profile a]\nregion = x\nmfa_serial = arn:s\n\n# about b\n[profile b]\n", true},
		{"replaces in place", "[profile a]\nmfa_serial = old\nregion = x\n", "a", "mfa_serial", "new",
			"[profile a]\nmfa_serial = new\nregion = x\n", true},
		{"same value writes nothing", "[profile a]\nmfa_serial = v\n", "a", "mfa_serial", "v",
			"[profile a]\nmfa_serial = v\n", false},
		{"creates the section", "[profile a]\nregion = x\n", "b", "mfa_serial", "v",
			"[profile a]\nregion = x\n\n[profile b]\nmfa_serial = v\n", true},
		{"default section", "", "default", "region", "eu-west-1", "[default]\nregion = eu-west-1\n", true},
		{"keeps CRLF", "[profile a]\r\nregion = x\r\n", "a", "output", "json", "[profile a]\r\nregion = x\r\noutput = json\r\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			if err := os.WriteFile(path, []byte(c.before), 0o640); err != nil {
				t.Fatal(err)
			}
			changed, err := SetValue(path, c.profile, c.key, c.value)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != c.after || changed != c.changed {
				t.Errorf("changed=%v, file:\n%q\nwant changed=%v:\n%q", changed, got, c.changed, c.after)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
			}
		})
	}
}

func TestSetValueRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	before := "[profile a]\nregion = x\n"
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ profile, key, value string }{
		{"a", "mfa_serial", "x\n[profile evil]"},
		{"a", "mfa_serial", "x # comment"},
		{"a", "Bad Key", "x"},
		{"a b", "k", "v"},
		{"a", "k", " padded"},
	} {
		if _, err := SetValue(path, c.profile, c.key, c.value); err == nil {
			t.Errorf("SetValue(%q, %q, %q) succeeded", c.profile, c.key, c.value)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != before {
		t.Errorf("a refused SetValue changed the file: %q", got)
	}
}
