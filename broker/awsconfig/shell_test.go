package awsconfig

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
)

var quoteTests = []string{
	"/usr/local/bin/broker",
	"/Applications/My Tools/broker",
	"/home/o'brien/bin/broker",
	"/tmp/a #b/broker",
	"/tmp/a;b/broker",
	"/tmp/$(rm -rf ~)/`x`/broker",
	`/tmp/back\slash/"dq"/broker`,
	"/tmp/ünïcode dir/broker",
	"/tmp/tab\there/broker",
	"dev",
	"my-profile.with_chars@x",
	"",
	`C:\Program Files\broker\broker.exe`,
	`C:\trailing\`,
	`C:\dir\"quoted"\`,
}

func TestQuoteArgRoundTrip(t *testing.T) {
	for _, windows := range []bool{false, true} {
		for _, s := range quoteTests {
			q := quoteArg(s, windows)
			got, err := splitArgs(q+" export dev", windows)
			if err != nil || !slices.Equal(got, []string{s, "export", "dev"}) {
				t.Errorf("windows=%v: split(%q) = %q, %v; want [%q export dev]", windows, q, got, err, s)
			}
			// No blank before '#' or ';': the config parser would cut the value there.
			line := []byte("credential_process = " + q + " export dev")
			if vs, ve := valueSpan(line, len("credential_process ")); string(line[vs:ve]) != q+" export dev" {
				t.Errorf("windows=%v: value %q read back as %q", windows, q, line[vs:ve])
			}
		}
	}
	if got := quoteArg("/usr/local/bin/broker", false); got != "/usr/local/bin/broker" {
		t.Errorf("a plain path is quoted: %s", got)
	}
	if got := quoteArg("/My Tools/broker", false); got != "'/My Tools/broker'" {
		t.Errorf("quoteArg = %s, want '/My Tools/broker'", got)
	}
}

// TestSplitMatchesBotocore checks the quoting against botocore's own
// splitting, which is what the AWS CLI runs, where python3 has it.
func TestSplitMatchesBotocore(t *testing.T) {
	const script = `
import json, sys
try:
    from botocore.compat import compat_shell_split as split
except ImportError:
    import shlex
    split = lambda s, platform: shlex.split(s) if platform != "win32" else None
print(json.dumps([split(line, platform=p) for line, p in json.load(sys.stdin)]))
`
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	type item struct {
		line    string
		windows bool
	}
	var items []item
	var input [][2]string
	for _, windows := range []bool{false, true} {
		platform := map[bool]string{false: "linux", true: "win32"}[windows]
		for _, s := range quoteTests {
			line := quoteArg(s, windows) + " export " + quoteArg("dev", windows)
			items = append(items, item{line, windows})
			input = append(input, [2]string{line, platform})
		}
	}
	in, _ := json.Marshal(input)
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want [][]string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(items) {
		t.Fatalf("python3 said %s: %v", out, err)
	}
	for i, it := range items {
		if want[i] == nil {
			continue // no botocore to split the Windows way
		}
		got, err := splitArgs(it.line, it.windows)
		if err != nil || !slices.Equal(got, want[i]) || !slices.Equal(want[i], []string{quoteTests[i%len(quoteTests)], "export", "dev"}) {
			t.Errorf("windows=%v: %q: python split %q, ours %q (%v)", it.windows, it.line, want[i], got, err)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in      string
		windows bool
		want    []string
	}{
		{`a b  c`, false, []string{"a", "b", "c"}},
		{`'a b'c "d\"e" f\ g`, false, []string{"a bc", `d"e`, "f g"}},
		{`"a\b"`, false, []string{`a\b`}},
		{`''`, false, []string{""}},
		{`a 'b`, false, nil},
		{`a \`, false, nil},
		{`"C:\Program Files\x.exe" export`, true, []string{`C:\Program Files\x.exe`, "export"}},
		{`a\\"b c"`, true, []string{`a\b c`}},
		{`a\"b`, true, []string{`a"b`}},
		{`"unterminated`, true, nil},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.in, tt.windows)
		if !slices.Equal(got, tt.want) || (err != nil) != (tt.want == nil) {
			t.Errorf("splitArgs(%q, %v) = %q, %v; want %q", tt.in, tt.windows, got, err, tt.want)
		}
	}
}

func TestIsBrokerLine(t *testing.T) {
	tests := []struct {
		value, brokerPath string
		want              bool
	}{
		{"/usr/local/bin/broker export dev", "/opt/broker", true},
		{"broker export dev", "", true},
		{"'/My Tools/broker' export dev --x", "", true},
		{"/opt/b2 export dev", "/opt/b2", true},
		{`C:\bin\Broker.EXE export dev`, "", false}, // POSIX splitting eats the backslashes
		{"/usr/bin/aws-vault export --format=json dev", "", false},
		{"/usr/bin/broker exec dev", "", false},
		{"/usr/bin/broker", "", false},
		{"/usr/bin/brokers export dev", "", false},
		{"'/usr/bin/broker export dev", "", false},
	}
	for _, tt := range tests {
		if got := isBrokerLine(tt.value, tt.brokerPath, false); got != tt.want {
			t.Errorf("isBrokerLine(%q, %q) = %v", tt.value, tt.brokerPath, got)
		}
	}
	if !isBrokerLine(`"C:\bin\Broker.EXE" export dev`, "", true) {
		t.Error("Windows broker.exe line not recognised")
	}
}
