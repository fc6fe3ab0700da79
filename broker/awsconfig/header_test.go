package awsconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// headerTests are section headers, each read by broker and by botocore.
// bad: broker refuses the header (file:line), because botocore reads it as
// another profile or as none while it looks like a profile's; reads is
// what botocore makes of it then (nil: it refuses the file).
var headerTests = []struct {
	header string
	bad    bool
	reads  []string
}{
	{"[profile a]", false, nil},
	{"[default]", false, nil},
	{"[profile  a]", false, nil},
	{"[profile a ]", false, nil},
	{"[profile\ta]", false, nil},
	{"[profile a] # the a account", false, nil},
	{"[profile a] junk", false, nil},
	{"  [profile a]", false, nil},
	{"[profile a#b]", false, nil},
	{"[profile a;b]", false, nil},
	{"[profilex]", false, nil},
	{"[sso-session x]", false, nil},
	{"[Default]", false, nil},
	{"[preview] # see [docs]", false, nil},
	{"[[profile a]", false, nil},
	{"[profile a]]", true, []string{"a]"}},
	{"[profile a] ]", true, []string{"a]"}},
	{"[profile a] # c]", true, []string{}},
	{"[profile [a]", true, []string{"[a"}},
	{"[ profile  a ]", true, []string{}},
	{"[ profile a]", true, []string{}},
	{"[\tprofile a]", true, []string{}},
	{"[ default ]", true, []string{}},
	{"[default ]", true, []string{}},
	{"[ default]", true, []string{}},
	{"[profile a b]", true, []string{}},
	{"[profile 'a b']", true, []string{"a b"}},
	{`[profile "a"]`, true, []string{"a"}},
	{`[profile a\]`, true, []string{}},
	{`[profile a\\]`, true, []string{`a\`}},
	{"[profile]", true, []string{}},
	{"[profile ]", true, []string{}},
	{"[profile a", true, nil},
}

// TestHeadersAsBotocoreReadsThem runs botocore's own config loader on
// each header: where broker accepts a header, both read the same profiles;
// where broker refuses one, botocore reads something else than the header
// seems to say (and Setup writes nothing into it).
func TestHeadersAsBotocoreReadsThem(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, tt := range headerTests {
		path := filepath.Join(dir, "config"+itoa(i))
		if err := os.WriteFile(path, []byte(tt.header+"\nregion = eu-west-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	botocore := botocoreProfiles(t, paths)
	for i, tt := range headerTests {
		f, err := Load(paths[i])
		var se *SyntaxError
		switch {
		case tt.bad && (!errors.As(err, &se) || se.Line != 1 || !strings.HasPrefix(err.Error(), paths[i]+":1: ")):
			t.Errorf("%q: Load = %v, want a syntax error at %s:1", tt.header, err, paths[i])
		case !tt.bad && err != nil:
			t.Errorf("%q: Load = %v", tt.header, err)
		case !tt.bad && !slices.Equal(f.ProfileNames(), botocore[i]):
			t.Errorf("%q: broker reads profiles %q, botocore %q", tt.header, f.ProfileNames(), botocore[i])
		case tt.bad && !slices.Equal(botocore[i], tt.reads):
			t.Errorf("%q: botocore reads profiles %q, want %q", tt.header, botocore[i], tt.reads)
		}
		if !tt.bad {
			continue
		}
		before, _ := os.ReadFile(paths[i])
		if changed, err := Setup(paths[i], "a", brokerBin, false); err == nil || changed {
			t.Errorf("%q: Setup = %v, %v; want the syntax error", tt.header, changed, err)
		}
		if after, _ := os.ReadFile(paths[i]); !bytes.Equal(before, after) {
			t.Errorf("%q: Setup wrote into the file", tt.header)
		}
	}
}

// botocoreProfiles returns, for each file, the profiles botocore's config
// loader finds in it (nil where it refuses the file).
func botocoreProfiles(t *testing.T, paths []string) [][]string {
	const script = `
import json, sys
import botocore.configloader as cl
out = []
for p in json.load(sys.stdin):
    try:
        out.append(list(cl.load_config(p)["profiles"]))
    except Exception:
        out.append(None)
print(json.dumps(out))
`
	if err := exec.Command("python3", "-c", "import botocore").Run(); err != nil {
		if os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("python3 with botocore: %v", err)
		}
		t.Skipf("python3 with botocore: %v", err)
	}
	in, _ := json.Marshal(paths)
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var got [][]string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(paths) {
		t.Fatalf("python3 said %s: %v", out, err)
	}
	return got
}
