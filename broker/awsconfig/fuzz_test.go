package awsconfig

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

var fuzzSeeds = []string{
	"",
	awsVaultConfig,
	setupTests[0].before,
	"[default]\r\nregion = us-east-1\r\n[profile a]\r\ninclude_profile = default\r\n",
	"[profile a]\ninclude_profile = b\n[profile b]\ninclude_profile = a\n",
	"[profile a]\ns3 =\n  x = 1\n\n  [y]\nduration_seconds = 12\nbroker_session_duration = 1h\n",
	"[profile a]\ncredential_process = # x\n  nested\nrole_arn = r ; c\nbroker_role_arn = b\n",
	"[profile dev]\ncredential_process = '/My Tools/broker' export dev\n[profile dev]\nrole_arn = x",
	"[profile x]\nduration_seconds = nope\n[sso-session s]\n",
	"[profile\tdev ] ;c\n\t\n  ; c\nk=v",
	"[profile a]\nservices = a\nsession_tags = t=1,u=2\n[services a]\nsts =\n  endpoint_url = http://x\n",
	"0\n\x94", // an error on line 1 comes before binary data on line 2
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := Parse(path, data)
		// Load streams the file; it must agree with Parse.
		loaded, lerr := Load(path)
		if errString(err) != errString(lerr) {
			t.Fatalf("Parse: %v, Load: %v", err, lerr)
		}
		// So must streaming one byte at a time through a buffer that grows.
		ix := &indexer{path: path, size: 1}
		serr := ix.stream(iotest.OneByteReader(bytes.NewReader(data)))
		if errString(err) != errString(serr) || err == nil && !slices.Equal(ix.secs, file.secs) {
			t.Fatalf("Parse: %v %v, one byte at a time: %v %v", err, file.secs, serr, ix.secs)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Line > bytes.Count(data, []byte{'\n'})+1 {
				t.Fatalf("Parse error %#v", err)
			}
			return
		}
		names := file.ProfileNames()
		if !slices.Equal(names, loaded.ProfileNames()) {
			t.Fatalf("names: Parse %q, Load %q", names, loaded.ProfileNames())
		}
		for _, name := range names {
			if !file.Has(name) || !loaded.Has(name) {
				t.Fatalf("Has(%q) = false", name)
			}
			// A profile's name doubles as a services section's name here.
			ep, err := file.ServiceEndpoint(name, "sts")
			lep, lerr := loaded.ServiceEndpoint(name, "sts")
			if ep != lep || errString(err) != errString(lerr) {
				t.Fatalf("ServiceEndpoint(%q): Parse %q %v, Load %q %v", name, ep, err, lep, lerr)
			}
			p, err := file.Profile(name)
			lp, lerr := loaded.Profile(name)
			if errString(err) != errString(lerr) || !profilesEqual(p, lp) {
				t.Fatalf("Profile(%q): Parse %+v %v, Load %+v %v", name, p, err, lp, lerr)
			}
			var le *LoopError
			var se *SyntaxError
			switch {
			case err == nil:
				if p.Name != name {
					t.Fatalf("Profile(%q).Name = %q", name, p.Name)
				}
			case errors.As(err, &le), errors.As(err, &se):
			case errors.Is(err, ErrProfileNotFound) && strings.Contains(err.Error(), "include_profile of"):
			default:
				t.Fatalf("Profile(%q): %v", name, err)
			}
		}
	})
}

func profilesEqual(a, b Profile) bool {
	return maps.Equal(a.Values, b.Values) && reflect.DeepEqual(a, b)
}

func FuzzSetup(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "dev")
		f.Add([]byte(s), "default")
	}
	f.Add([]byte("[profile a#b]\n"), "a#b")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		before, err := Parse("config", data)
		path := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		changed, serr := Setup(path, name, brokerBin, false)
		if err != nil || checkName(name) != nil {
			if serr == nil || changed {
				t.Fatalf("Setup accepted a bad config or name: %v", serr)
			}
			return
		}
		var ce *ConflictError
		if errors.As(serr, &ce) {
			changed, serr = Setup(path, name, brokerBin, true)
		}
		var se *SyntaxError
		if errors.As(serr, &se) && strings.Contains(se.Msg, "a second section for profile") {
			if out, _ := os.ReadFile(path); changed || !bytes.Equal(out, data) {
				t.Fatalf("Setup refused a duplicate section but changed the file")
			}
			return
		}
		if serr != nil {
			t.Fatalf("Setup: %v", serr)
		}
		out, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if changed == bytes.Equal(out, data) {
			t.Fatalf("changed = %v, but the file is %s", changed, map[bool]string{true: "the same", false: "different"}[bytes.Equal(out, data)])
		}
		after, err := Parse("config", out)
		if err != nil {
			t.Fatalf("Setup's output does not parse: %v\n%q", err, out)
		}
		want := quoteArg(brokerBin, windowsArgs) + " export " + quoteArg(name, windowsArgs)
		own := layerValues(t, after, name)
		if own["credential_process"] != want {
			t.Fatalf("credential_process = %q, want %q\n%q", own["credential_process"], want, out)
		}
		for _, k := range roleKeys {
			if _, ok := own[k]; ok {
				t.Fatalf("%s left in place:\n%q", k, out)
			}
		}
		// Other profiles are untouched.
		for _, n := range before.ProfileNames() {
			if _, err := (reader{f: before}).layer(n); err != nil {
				continue // a profile with two sections, refused when read
			}
			if n != name && !maps.Equal(layerValues(t, before, n), layerValues(t, after, n)) {
				t.Fatalf("profile %q changed:\n%q", n, out)
			}
		}
		if changed, err := Setup(path, name, brokerBin, false); changed || err != nil {
			t.Fatalf("second Setup = %v, %v", changed, err)
		}
		if _, err := Unsetup(path, name); err != nil {
			t.Fatalf("Unsetup: %v", err)
		}
		out, _ = os.ReadFile(path)
		if _, err := Parse("config", out); err != nil {
			t.Fatalf("Unsetup's output does not parse: %v", err)
		}
	})
}

// layerValues returns the keys of the named profile's own sections.
func layerValues(t *testing.T, f *File, name string) map[string]string {
	l, err := reader{f: f}.layer(name)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for k, kl := range l {
		m[k] = kl.value
	}
	return m
}
