package keyscan

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// counted are the values of the findings that count (not examples).
func counted(found []Finding) []string {
	var out []string
	for _, f := range found {
		if !f.Example {
			out = append(out, f.Value)
		}
	}
	return out
}

// TestCorpus measures the rules on the labelled corpus: the share of
// planted key IDs and secrets found, and of clean files flagged. The
// issue's goal: at least 95% found, at most 1 clean file in 32 flagged.
func TestCorpus(t *testing.T) {
	g := newGen(1)
	type tally struct{ found, total int }
	byCategory := map[string]*tally{}
	var all tally
	for _, c := range corpus {
		text, want := g.expand(t, c.text)
		if len(want) == 0 {
			t.Fatalf("%s: plants nothing", c.name)
		}
		got := counted(Lines(c.name, []byte(text)))
		tl := byCategory[c.category]
		if tl == nil {
			tl = &tally{}
			byCategory[c.category] = tl
		}
		for _, w := range want {
			tl.total++
			all.total++
			if slices.Contains(got, w) {
				tl.found++
				all.found++
			} else if !c.hard {
				t.Errorf("%s (%s): missed %s", c.name, c.category, describe(w))
			}
		}
		for _, v := range got {
			if !slices.Contains(want, v) {
				t.Errorf("%s (%s): reported %s, which is not planted", c.name, c.category, describe(v))
			}
		}
	}
	flagged := 0
	for _, c := range clean {
		text, want := g.expand(t, c.text)
		if len(want) > 0 {
			t.Fatalf("clean file %s plants %d keys", c.name, len(want))
		}
		if got := Lines(c.name, []byte(text)); len(counted(got)) > 0 {
			flagged++
			t.Logf("clean file %s (%s) flagged: %s", c.name, c.category, got[0].Reason)
		}
	}
	for _, cat := range sortedKeys(byCategory) {
		tl := byCategory[cat]
		t.Logf("%-18s %d of %d found", cat, tl.found, tl.total)
	}
	recall := float64(all.found) / float64(all.total)
	t.Logf("found %d of %d planted key IDs and secrets (%.1f%%) in %d files; %d of %d clean files flagged",
		all.found, all.total, 100*recall, len(corpus), flagged, len(clean))
	if recall < 0.95 {
		t.Errorf("found %.1f%% of the planted keys, want at least 95%%", 100*recall)
	}
	if len(clean) < 32 || flagged*32 > len(clean) {
		t.Errorf("%d of %d clean files flagged, want at most 1 in 32 (and at least 32 clean files)", flagged, len(clean))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// describe names a value without showing it.
func describe(v string) string {
	if len(v) == 40 {
		return "a secret"
	}
	return "key ID " + MaskID(v)
}

func kinds(found []Finding) []Kind {
	var out []Kind
	for _, f := range found {
		out = append(out, f.Kind)
	}
	return out
}

// TestKeyIDs: which 20-character IDs are key IDs, found or not found.
func TestKeyIDs(t *testing.T) {
	g := newGen(2)
	moto := "AKIA" + "QX0FAKEKEY8ABC9DE1" // moto's IDs have 0, 1, 8 and 9
	for _, tc := range []struct {
		category, line string
		want           Kind // "" not found
		reason         string
		example        bool
	}{
		{"prefix", "aws_access_key_id = " + g.id("AKIA"), LongTermKeyID, "AKIA prefix: an access key", false},
		{"prefix", `"AccessKeyId": "` + g.id("ASIA") + `",`, TemporaryKeyID, "ASIA prefix: a temporary key from STS", false},
		{"prefix", "id: " + g.id("ABIA"), ServiceKeyID, "ABIA prefix: an STS service bearer token", false},
		{"prefix", "id: " + g.id("ACCA"), ServiceKeyID, "ACCA prefix: a context-specific credential", false},
		{"prefix", "id: " + g.id("A3TX"), LongTermKeyID, "A3T prefix: an older access key", false},
		{"prefix", "id: " + moto[:20], LongTermKeyID, "AKIA prefix: an access key", false},
		{"prefix", "KEY_" + g.id("AKIA") + "_X", LongTermKeyID, "AKIA prefix: an access key", false},
		{"example", "AKIAIOSFODNN7EXAMPLE", LongTermKeyID, "AKIA prefix: an access key", true},
		// IAM identifiers are not keys, whatever their length.
		{"iam id", "user " + g.id("AIDA"), "", "", false},
		{"iam id", "role " + g.id("AROA"), "", "", false},
		{"iam id", "group " + g.id("AGPA"), "", "", false},
		{"iam id", "policy " + g.id("ANPA") + " " + g.id("ANVA"), "", "", false},
		{"iam id", "Key-Pair-Id=" + g.id("APKA"), "", "", false},
		{"iam id", "profile " + g.id("AIPA"), "", "", false},
		{"iam id", "user " + g.id("AIDA") + "Q", "", "", false},
		// Placeholders and look-alikes.
		{"placeholder", "AKIA" + strings.Repeat("X", 16), "", "", false},
		{"placeholder", "AKIA" + strings.Repeat("Z", 16), "", "", false},
		{"placeholder", "AKIA" + strings.Repeat("TEST", 4), "", "", false},
		{"placeholder", "AKIA" + "ABCDEFGHIJKLMNOP", "", "", false},
		{"placeholder", "ASIA" + "1234567890123456", "", "", false},
		{"placeholder", "AKIA" + "QXR7" + strings.Repeat("M", 6) + "ABCJ2Z", "", "", false},
		{"boundary", "X" + g.id("AKIA"), "", "", false},
		{"boundary", g.id("AKIA") + "9", "", "", false},
		{"boundary", strings.ToLower(g.id("AKIA")), "", "", false},
		{"boundary", g.id("AKIA")[:19], "", "", false},
		{"boundary", "TODAYINASIA" + "ASACKOFRICEFELLOVER", "", "", false},
		{"boundary", "AKIA" + "q" + g.id("AKIA")[5:], "", "", false},
	} {
		got := Lines("f", []byte("first line\n"+tc.line+"\n"))
		if tc.want == "" {
			if len(got) > 0 {
				t.Errorf("%s: %q: found %v, want nothing", tc.category, tc.line, kinds(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %q: found %v, want one %s", tc.category, tc.line, kinds(got), tc.want)
			continue
		}
		f := got[0]
		if f.Kind != tc.want || f.Reason != tc.reason || f.Example != tc.example || f.Line != 2 || f.Path != "f" ||
			f.Masked != MaskID(f.Value) || !strings.Contains(tc.line, f.Value) {
			t.Errorf("%s: %q: finding %+v", tc.category, tc.line, f)
		}
	}
}

// TestSecrets: each context that makes a 40-character run a secret, and
// runs that are not.
func TestSecrets(t *testing.T) {
	g := newGen(3)
	s := g.secret()
	id := g.id("AKIA")
	blank := func(n int) string { return strings.Repeat("\n", n) }
	for _, tc := range []struct {
		category, text string
		reason         string // "" not found
		example        bool
	}{
		{"next to key ID", "Session(\"" + id + "\", \"" + s + "\")", "secret next to key ID", false},
		{"next to key ID", id + "," + s, "secret next to key ID", false},
		{"next to key ID", "s3n://" + id + ":" + s + "@bucket/x", "secret next to key ID", false},
		{"next to key ID", id + blank(5) + "x " + s, "secret next to key ID", false},
		{"next to key ID", "x " + s + blank(5) + id, "secret next to key ID", false},
		{"next to key ID", id + blank(6) + "x " + s, "", false},
		{"next to key ID", "AKIAIOSFODNN7EXAMPLE\n" + s, "secret next to AWS's documentation example key ID", true},
		{"next to key ID", "AKIA" + strings.Repeat("X", 16) + "\n" + s, "", false},
		{"next to key ID", g.id("AROA") + "\n" + s, "", false},
		{"hint", "aws_secret_access_key = " + s, `secret after "secret"`, false},
		{"hint", `{"SecretAccessKey":"` + s + `"}`, `secret after "secret"`, false},
		{"hint", "password: " + s, `secret after "password"`, false},
		{"hint", "db_passwd=" + s, `secret after "passwd"`, false},
		{"hint", "new BasicAWSCredentials(accessKey, \"" + s + "\")", `secret after "credential"`, false},
		{"hint", "aws_key = \"" + s + "\"", `secret after a name with "aws"`, false},
		{"hint", "AWS_SK=" + s, `secret after a name with "aws"`, false},
		{"hint", "sk: " + s, `secret after "sk"`, false},
		{"hint", "db.pwd => '" + s + "'", `secret after "pwd"`, false},
		{"hint", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", `secret after "secret"`, true},
		{"line above", "- name: AWS_SECRET_ACCESS_KEY\n  value: " + s, `secret on the line after "secret"`, false},
		{"line above", "<name>fs.s3a.secret.key</name>\n<value>" + s + "</value>", `secret on the line after "secret"`, false},
		{"line above", "variable \"aws_secret_key\" {\n  type = string\n  sensitive = true\n  default = \"" + s + "\"", `secret on the line after "secret"`, false},
		{"line above", "variable \"aws_secret_key\" {\n\n\n\n  default = \"" + s + "\"", "", false},
		{"line above", "\"key\": \"aws_key\",\n\"value\": \"" + s + "\"", `secret on the line after a name with "aws"`, false},
		{"line above", "provider \"aws\" {\n  token = \"" + s + "\"", "", false},
		// Not secrets.
		{"no context", "commit " + s, "", false},
		{"no context", "some_other_40_char_base64_str: " + s, "", false},
		{"no context", s + " is the secret", "", false},
		{"shape", "secret = " + s + "z", "", false},
		{"shape", "secret = " + s + "=", "", false},
		{"shape", "secret = " + s[:39], "", false},
		{"shape", "secret: " + g.from("0123456789abcdef", 40), "", false},
		{"shape", "secret: " + strings.ToUpper(g.from("0123456789abcdef", 40)), "", false},
		{"shape", "secret: ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN", "", false},
		{"shape", "secret" + s[6:] + "1", "", false}, // the word is part of the run
		{"placeholder", "secret = " + strings.Repeat("TEST", 10), "", false},
		{"placeholder", "secret = " + strings.Repeat("aB3/", 10), "", false},
		{"placeholder", "secret = " + s[:30] + "xxxxx" + s[35:], "", false},
		{"placeholder", "secret = ABCDEFGHIJklmnopqrst" + s[20:], "", false},
	} {
		got := Lines("f", []byte(tc.text+"\n"))
		var secrets []Finding
		for _, f := range got {
			if f.Kind == Secret {
				secrets = append(secrets, f)
			}
		}
		if tc.reason == "" {
			if len(secrets) > 0 {
				t.Errorf("%s: %q: found a secret (%s), want none", tc.category, tc.text, secrets[0].Reason)
			}
			continue
		}
		if len(secrets) != 1 {
			t.Errorf("%s: %q: found %d secrets, want 1", tc.category, tc.text, len(secrets))
			continue
		}
		f := secrets[0]
		if f.Reason != tc.reason || f.Example != tc.example || f.Masked != "(secret hidden)" || len(f.Value) != 40 ||
			!strings.Contains(tc.text, f.Value) || strings.Contains(f.Reason, f.Value) {
			t.Errorf("%s: %q: finding %+v, want reason %q, example %v", tc.category, tc.text, f, tc.reason, tc.example)
		}
	}
}

// TestEncoded: URL-encoded, escaped and base64 forms are decoded, and the
// finding says so, on the line the encoded form is on.
func TestEncoded(t *testing.T) {
	g := newGen(4)
	id, slash, plus := g.id("AKIA"), g.secretWith('/'), g.secretWith('+')
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, text string
		want       []string // the values, in order
		reason     string   // of the last finding
	}{
		{"URL-encoded", "s3n://" + id + ":" + strings.ReplaceAll(slash, "/", "%2F") + "@b", []string{id, slash}, "secret next to key ID, URL-encoded"},
		{"URL-encoded lower case", "secret=" + strings.ReplaceAll(plus, "+", "%2b"), []string{plus}, `secret after "secret", URL-encoded`},
		{"JSON-escaped", `{"secret":"` + strings.ReplaceAll(slash, "/", `\/`) + `"}`, []string{slash}, `secret after "secret", escaped`},
		{"Kubernetes data", "data:\n  AWS_ACCESS_KEY_ID: " + b64(id) + "\n  AWS_SECRET_ACCESS_KEY: " + b64(slash),
			[]string{id, slash}, "secret next to key ID, base64-encoded"},
		{"echo without -n", "AWS_SECRET_ACCESS_KEY: " + b64(plus+"\n"), []string{plus}, `secret after "secret", base64-encoded`},
		{"whole file", "credentials: " + b64("[default]\r\naws_access_key_id="+id+"\r\naws_secret_access_key="+slash+"\r\n"),
			[]string{id, slash}, "secret next to key ID, base64-encoded"},
		{"JWT", "Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"k":"`+id+`","s":"`+slash+`"}`)) + ".",
			[]string{id, slash}, "secret next to key ID, base64-encoded"},
		{"binary is not text", "blob: " + base64.StdEncoding.EncodeToString([]byte("\x00\x01\x02"+id+"\xff")), nil, ""},
	} {
		got := Lines("f", []byte("first\n"+tc.text+"\n"))
		var values []string
		for _, f := range got {
			values = append(values, f.Value)
			if f.Line < 2 || f.Line > strings.Count(tc.text, "\n")+2 {
				t.Errorf("%s: finding on line %d", tc.name, f.Line)
			}
		}
		if !slices.Equal(values, tc.want) {
			t.Errorf("%s: found %d values %v, want %d", tc.name, len(values), kinds(got), len(tc.want))
			continue
		}
		if len(got) > 0 && got[len(got)-1].Reason != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, got[len(got)-1].Reason, tc.reason)
		}
	}
}

// TestLongLine: a 1 MiB line of 25,000 secrets after one hint word is
// scanned in one pass (the hint is looked for once, not per candidate).
func TestLongLine(t *testing.T) {
	g := newGen(10)
	var b strings.Builder
	b.WriteString("password: ")
	for range 25_000 {
		b.WriteString(g.secret() + " ")
	}
	got := Lines("f", []byte("x\n\n"+b.String()+"\n"))
	// A few random strings look like placeholders (a run of five, …).
	if len(got) < 24_900 || len(got) > 25_000 || got[0].Reason != `secret after "password"` {
		t.Errorf("%d findings, want nearly 25,000", len(got))
	}
}

func TestMaskID(t *testing.T) {
	if got := MaskID("AKIAQX0FAKEKEY0ABCDE"); got != "AKIA****BCDE" {
		t.Errorf("MaskID = %q", got)
	}
	if got := MaskID("short"); got != "****" {
		t.Errorf("MaskID(short) = %q", got)
	}
}

// FuzzLines: whatever the input, every finding is well formed, in the
// input (or, when its reason says so, in a decoded form of it), and shows
// nothing of a secret.
func FuzzLines(f *testing.F) {
	g := newGen(5)
	for _, c := range append(append([]corpusCase{}, corpus...), clean...) {
		text, _ := g.expandFuzz(c.text)
		f.Add([]byte(text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Count(string(data), "\n") + 1
		for _, fi := range Lines("f", data) {
			if fi.Line < 1 || fi.Line > lines || fi.Reason == "" {
				t.Fatalf("finding %+v: bad line or no reason", fi)
			}
			if !strings.Contains(string(data), fi.Value) && !strings.Contains(fi.Reason, "-encoded") &&
				!strings.Contains(fi.Reason, "escaped") {
				t.Fatalf("finding %+v is not in the input", fi)
			}
			if strings.Contains(fi.Reason, fi.Value) {
				t.Fatalf("the reason shows the value: %+v", fi)
			}
			switch fi.Kind {
			case Secret:
				if len(fi.Value) != 40 || fi.Masked != "(secret hidden)" || !mixed(fi.Value) {
					t.Fatalf("bad secret finding %+v", fi)
				}
			default:
				if len(fi.Value) != 20 || !isKeyID(fi.Value) || fi.Masked != MaskID(fi.Value) {
					t.Fatalf("bad key ID finding %+v", fi)
				}
			}
		}
	})
}

// expandFuzz is expand for seeds, outside a test.
func (g *gen) expandFuzz(tmpl string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unclosed {{")
		}
		b.WriteString(tmpl[:i])
		v, _, err := g.value(tmpl[i+2 : i+j])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		tmpl = tmpl[i+j+2:]
	}
}

// wrap is s cut into lines of width characters, each after indent, as
// base64 (76), openssl base64 and PEM (64) write it.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(width, len(s))
		b.WriteString(indent + s[:n] + "\n")
		s = s[n:]
	}
	return b.String()
}

// TestWrappedBase64: base64 wrapped over lines is decoded as one, so a
// value cut by a line break is found: a credentials file as base64 and
// openssl base64 write it, in a YAML block, with CRLF; a Kubernetes
// manifest whose secret is on the line after its name. A wrapped
// certificate or random data gives nothing.
func TestWrappedBase64(t *testing.T) {
	g := newGen(11)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, before string
		width        int
		indent, eol  string
	}{
		{"base64", "", 76, "", "\n"},
		{"openssl base64", "", 64, "", "\n"},
		{"YAML block", "data:\n  credentials: |\n", 76, "    ", "\n"},
		{"CRLF", "-----BEGIN CREDENTIALS-----\r\n", 64, "", "\r\n"},
	} {
		ids, secrets := 0, 0
		for range 20 {
			id, s := g.id("AKIA"), g.secret()
			file := "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + s + "\n"
			text := tc.before + strings.ReplaceAll(wrap(b64(file), tc.width, tc.indent), "\n", tc.eol)
			first := strings.Count(tc.before, "\n") + 1
			got := Lines("f", []byte(text))
			for _, f := range got {
				if f.Line < first || f.Line > strings.Count(text, "\n") || !strings.HasSuffix(f.Reason, ", base64-encoded") {
					t.Errorf("%s: finding on line %d, reason %q", tc.name, f.Line, f.Reason)
				}
			}
			if values := counted(got); slices.Contains(values, id) {
				ids++
			}
			if values := counted(got); slices.Contains(values, s) {
				secrets++
			}
		}
		if ids != 20 || secrets != 20 {
			t.Errorf("%s: found %d of 20 key IDs and %d of 20 secrets", tc.name, ids, secrets)
		}
	}

	s := g.secret()
	manifest := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    env:\n    - name: AWS_SECRET_ACCESS_KEY\n      value: " + s + "\n"
	got := Lines("f", []byte(wrap(b64(manifest), 76, "")))
	if len(got) != 1 || got[0].Value != s || got[0].Reason != `secret on the line after "secret", base64-encoded` {
		t.Errorf("wrapped manifest: %d findings %v", len(got), kinds(got))
	}
	for name, text := range map[string]string{
		"certificate": "-----BEGIN CERTIFICATE-----\n" + wrap("MIIB"+g.from(secretChars, 600), 64, "") + "-----END CERTIFICATE-----\n",
		"no key":      wrap(b64(strings.Repeat("region = eu-west-1\noutput = json\n", 20)), 76, ""),
		"nonces":      g.from(secretChars, 40) + "\n" + g.from(secretChars, 40) + "\n",
	} {
		if got := Lines("f", []byte(text)); len(got) > 0 {
			t.Errorf("%s: found %v", name, kinds(got))
		}
	}
}

// TestEscapes: a backslash escape right before a key ID or secret
// separates them, as a space would: \n, \t and \r in JSON, YAML and
// source strings, \u000a and \x09, and JSON inside a JSON string.
func TestEscapes(t *testing.T) {
	g := newGen(13)
	for _, tc := range []struct {
		name string
		text func(id, s string) string
	}{
		{"CSV in a JSON string", func(id, s string) string {
			return `{"body": "Access key ID,Secret access key\n` + id + "," + s + `\n"}`
		}},
		{"tab in a JSON string", func(id, s string) string { return `{"row": "` + id + `\t` + s + `"}` }},
		{"CRLF in a string", func(id, s string) string { return `creds = "[default]\r\n` + id + `\r\n` + s + `\r\n"` }},
		{"unicode escapes", func(id, s string) string { return `{"row": "\u000a` + id + `\u0009` + s + `"}` }},
		{"hex escapes", func(id, s string) string { return `printf "\x0a` + id + `\x09` + s + `"` }},
		{"JSON in a JSON string", func(id, s string) string {
			return `{"Message": "{\"body\": \"key\\n` + id + `\\t` + s + `\\n\"}"}`
		}},
		{"escape then a key ID", func(id, s string) string { return `"Access key ID\n` + id + `", "secret: ` + s + `"` }},
	} {
		id, s := g.id("AKIA"), g.secret()
		got := counted(Lines("f", []byte(tc.text(id, s)+"\n")))
		if !slices.Equal(got, []string{id, s}) {
			t.Errorf("%s: found %d values, want the key ID and the secret: %q", tc.name, len(got), tc.text("AKIA…", "SECRET"))
		}
	}
	// A letter glued to a value without a backslash still hides it; a
	// backslash before something that is no escape does not help.
	id, s := g.id("AKIA"), g.secret()
	for _, text := range []string{`"n` + id + `"`, `"\q` + id + `"`, `password: "\t` + s + `9"`} {
		if got := Lines("f", []byte(text+"\n")); len(got) > 0 {
			t.Errorf("%q: found %v", text, kinds(got))
		}
	}
}
