// Package keyscan finds AWS access key IDs and secret access keys in files.
// It never calls AWS, never prints and never puts a secret in an error:
// Finding.Value holds what was found, for the caller to compare, and
// Finding.Masked is what may be shown.
//
// Rules:
//
//   - An access key ID is one of AWS's key prefixes (AKIA access key, ASIA
//     temporary key from STS, ABIA STS service bearer token, ACCA
//     context-specific credential, A3T plus one letter or digit in old
//     keys) followed by upper-case letters or digits to 20 characters (AWS
//     uses base32, A-Z and 2-7; moto also uses 0, 1, 8 and 9), with no
//     letter or digit right before or after it. The other unique-ID
//     prefixes (AIDA user, AROA role, AGPA group, ANPA and ANVA policy,
//     APKA public key, AIPA instance profile, …) name IAM things, not keys:
//     they are not reported.
//   - A placeholder is not a key: after the prefix, a run of five of one
//     character, fewer than six different characters (AKIAXXXX…,
//     AKIA and TEST four times), six steps up the alphabet (ABCDEFG…), or a
//     Shannon entropy under 3 bits per character. A secret is a
//     placeholder with an entropy under 4 bits, a run of five, or eight
//     steps up; random base64 has about 5.
//   - A secret candidate is a run of exactly 40 characters from A-Z, a-z,
//     0-9, '/' and '+', with none of those (nor '=') right before or after
//     it, that has an upper-case and a lower-case letter and a digit, '/'
//     or '+' (so a hex digest, a git commit, never is). It is a secret when
//     its context says so, the strongest signal first: a key ID within
//     five lines of it ("secret next to key ID": SDK constructors,
//     id:secret pairs, s3n://ID:SECRET@bucket, the IAM console's CSV,
//     Terraform and Kubernetes blocks); a hint before it on its line (the
//     words secret, password, passwd, credential; a name holding "aws" or
//     the word "sk" or "pwd" right before it: aws_key = …, AWS_SK=…); or a hint on
//     one of the three lines before it (the value on the line after its name:
//     Packer and Terraform variable blocks, Kubernetes name/value, Postman
//     environments, Hadoop XML).
//   - Encoded forms are decoded first, each line on its own: %2F, %2B and
//     %3D (URL-encoded), \/ (JSON), and any run of 24 or more base64 or
//     base64url characters (a Kubernetes Secret's data, a JWT's parts, a
//     whole credentials file) that decodes to printable text.
//   - A value containing "EXAMPLE" is AWS's documentation example
//     (AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY):
//     reported with Example set, for the caller not to count; so is a
//     secret whose only context is a documentation example key ID.
package keyscan

import (
	"bytes"
	"math"
	"slices"
	"strings"
)

// Kind is what a finding is.
type Kind string

// Kinds of findings.
const (
	LongTermKeyID  Kind = "access-key-id"           // AKIA…, A3T…
	TemporaryKeyID Kind = "temporary-access-key-id" // ASIA…
	ServiceKeyID   Kind = "service-access-key-id"   // ABIA…, ACCA…
	Secret         Kind = "secret-access-key"
)

// Finding is one key ID or secret in one line of a file.
type Finding struct {
	Path      string `json:"file"`
	Line      int    `json:"line"`
	Kind      Kind   `json:"kind"`
	Masked    string `json:"value"`      // AKIA****WXYZ for IDs; nothing of a secret
	Example   bool   `json:"example"`    // AWS's documentation example: not counted
	Reason    string `json:"reason"`     // why it matched; never any of the value
	Tracked   bool   `json:"tracked"`    // git tracks the file: it is in commits, and pushed
	LocalOnly bool   `json:"local_only"` // git ignores the file and does not track it
	Value     string `json:"-"`          // what was found: never print it
}

// MaskID shows an access key ID's kind and last four characters: AKIA****WXYZ.
func MaskID(id string) string {
	if len(id) < 12 {
		return "****"
	}
	return id[:4] + "****" + id[len(id)-4:]
}

// maskedSecret is all that is ever shown of a secret.
const maskedSecret = "(secret hidden)"

// keyPrefixes are the key IDs' prefixes, with their kind and reason.
var keyPrefixes = map[string]struct {
	kind   Kind
	reason string
}{
	"AKIA": {LongTermKeyID, "AKIA prefix: an access key"},
	"ASIA": {TemporaryKeyID, "ASIA prefix: a temporary key from STS"},
	"ABIA": {ServiceKeyID, "ABIA prefix: an STS service bearer token"},
	"ACCA": {ServiceKeyID, "ACCA prefix: a context-specific credential"},
	"A3T":  {LongTermKeyID, "A3T prefix: an older access key"},
}

// Reasons a secret matched, strongest first.
const (
	reasonNextToID      = "secret next to key ID"
	reasonNextToExample = "secret next to AWS's documentation example key ID"
	nearLines           = 5 // "next to": within this many lines
	hintLines           = 3 // a name this many lines above its value
)

// line is a view of one line of a file: as it is, or decoded.
type line struct {
	num     int
	text    []byte
	encoded string // "" as it is, else what was decoded ("URL-encoded", …)
}

// token is a key ID or secret candidate in a line.
type token struct {
	value   string
	at      int // offset in the line
	example bool
}

// Lines returns the findings in data, the contents of the file at path.
func Lines(path string, data []byte) []Finding {
	if !hasRun(data, 20) && bytes.IndexByte(data, '%') < 0 && bytes.IndexByte(data, '\\') < 0 {
		return nil // no key, nor anything encoded, fits
	}
	sc := scanner{d: split(data), words: map[int][]int{}, viewHints: map[int]string{}, rawHints: map[int]string{},
		plain: map[valueAt]bool{}, near: map[int]int{}}
	var out []Finding
	seen := map[valueAt]bool{}
	add := func(f Finding, l line) {
		k := valueAt{f.Value, f.Line}
		if seen[k] {
			return
		}
		seen[k] = true
		if l.encoded != "" && !sc.plain[k] {
			f.Reason += ", " + l.encoded
		}
		out = append(out, f)
	}
	for _, l := range sc.d.views {
		for _, id := range keyIDs(l.text) {
			if l.encoded == "" {
				sc.plain[valueAt{id.value, l.num}] = true
			}
			p := keyPrefixes[id.value[:4]]
			if strings.HasPrefix(id.value, "A3T") {
				p = keyPrefixes["A3T"]
			}
			add(Finding{Path: path, Line: l.num, Kind: p.kind, Masked: MaskID(id.value), Example: id.example,
				Reason: p.reason, Value: id.value}, l)
			strength := 2
			if id.example {
				strength = 1
			}
			for n := l.num - nearLines; n <= l.num+nearLines; n++ {
				sc.near[n] = max(sc.near[n], strength)
			}
		}
	}
	for i, l := range sc.d.views {
		for _, s := range secrets(l.text) {
			if l.encoded == "" {
				sc.plain[valueAt{s.value, l.num}] = true
			}
			if seen[valueAt{s.value, l.num}] {
				continue
			}
			reason, example := sc.secretReason(i, s)
			if reason == "" {
				continue
			}
			add(Finding{Path: path, Line: l.num, Kind: Secret, Masked: maskedSecret,
				Example: example || s.example, Reason: reason, Value: s.value}, l)
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return a.Line - b.Line })
	return out
}

type valueAt struct {
	value string
	line  int
}

// scanner is one file being scanned, with what it has learnt of it: each
// line's hints are looked for once, however many candidates it holds.
type scanner struct {
	d         *doc
	words     map[int][]int    // by view: where each hint word first is, or -1
	viewHints map[int]string   // by view: hintIn
	rawHints  map[int]string   // by line number: hintIn of the line as it is
	plain     map[valueAt]bool // candidates in the lines as they are, not decoded
	near      map[int]int      // by line number: 1 an example key ID within reach, 2 a real one
}

// secretReason says why candidate s in view i is a secret, or "".
func (sc *scanner) secretReason(i int, s token) (string, bool) {
	l := sc.d.views[i]
	near := sc.near[l.num]
	if near == 2 {
		return reasonNextToID, false
	}
	if h := sc.hintBefore(i, s.at); h != "" {
		return "secret after " + h, false
	}
	// The lines above: views of the same line before this one (the line
	// as it is, lines decoded before) or decoded from the same run of
	// wrapped base64, then the lines above in the file.
	run := sc.d.runOf[i]
	for j := i - 1; j >= 0 && j >= i-hintLines && (sc.d.views[j].num == l.num || run > 0 && sc.d.runOf[j] == run); j-- {
		h, ok := sc.viewHints[j]
		if !ok {
			h = hintIn(sc.d.views[j].text)
			sc.viewHints[j] = h
		}
		if h != "" {
			return "secret on the line after " + h, false
		}
	}
	for n := l.num - 1; n >= 1 && n >= l.num-hintLines; n-- {
		h, ok := sc.rawHints[n]
		if !ok {
			h = hintIn(sc.d.raw(n))
			sc.rawHints[n] = h
		}
		if h != "" {
			return "secret on the line after " + h, false
		}
	}
	if near == 1 {
		return reasonNextToExample, true
	}
	return "", false
}

// Character classes, as bits of classes[c].
const (
	alnumClass  = 1 << iota // A-Z a-z 0-9
	secretClass             // and / +
	base64Class             // and / + - _
	nameClass               // and _ - .
)

var classes = func() (t [256]uint8) {
	for c := range 256 {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			t[c] = alnumClass | secretClass | base64Class | nameClass
		}
	}
	t['/'], t['+'] = secretClass|base64Class, secretClass|base64Class
	t['-'], t['_'] = base64Class|nameClass, base64Class|nameClass
	t['.'] = nameClass
	return t
}()

func isAlnum(c byte) bool      { return classes[c]&alnumClass != 0 }
func isSecretChar(c byte) bool { return classes[c]&secretClass != 0 }
func isBase64Char(c byte) bool { return classes[c]&base64Class != 0 }
func isNameChar(c byte) bool   { return classes[c]&nameClass != 0 }

// hasRun reports whether b holds n or more base64 characters in a row:
// a line without such a run holds neither a key ID nor a secret.
func hasRun(b []byte, n int) bool {
	run := 0
	for _, c := range b {
		if classes[c]&base64Class == 0 {
			run = 0
		} else if run++; run >= n {
			return true
		}
	}
	return false
}

// keyIDs are the key IDs in b that are not placeholders.
func keyIDs(b []byte) []token {
	var out []token
	for i := 0; i+20 <= len(b); i++ {
		if b[i] != 'A' || i > 0 && isAlnum(b[i-1]) && escapeEnds(b[:i]) == 0 {
			continue
		}
		j := i
		for j < len(b) && j-i <= 20 && isAlnum(b[j]) {
			j++
		}
		if j-i != 20 {
			i = j
			continue
		}
		id := string(b[i:j])
		i = j
		if !isKeyID(id) || placeholderID(id) {
			continue
		}
		out = append(out, token{value: id, at: j - 20, example: strings.Contains(id, "EXAMPLE")})
	}
	return out
}

// escapeEnds is the length of the letters and digits of a backslash
// escape that b ends with (\n, \t, \r, \b, \f, \v, \0, \xHH, \uHHHH), or 0:
// in JSON, YAML and source strings, "\nAKIA…" is a line break, then a
// key ID; so is "\\nAKIA…", JSON in a JSON string.
func escapeEnds(b []byte) int {
	for _, n := range [...]int{1, 3, 5} {
		if len(b) < n+1 {
			return 0
		}
		e := b[len(b)-n:]
		var ok bool
		switch n {
		case 1:
			ok = bytes.IndexByte([]byte("ntrbfv0"), e[0]) >= 0
		case 3:
			ok = e[0] == 'x' && isHex(e[1]) && isHex(e[2])
		case 5:
			ok = e[0] == 'u' && isHex(e[1]) && isHex(e[2]) && isHex(e[3]) && isHex(e[4])
		}
		if ok && b[len(b)-n-1] == '\\' {
			return n
		}
	}
	return 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isKeyID(id string) bool {
	if _, ok := keyPrefixes[id[:4]]; !ok && !strings.HasPrefix(id, "A3T") {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// secrets are the secret candidates in b that are not placeholders.
func secrets(b []byte) []token {
	var out []token
	for i := 0; i < len(b); i++ {
		if !isSecretChar(b[i]) {
			continue
		}
		j := i
		for j < len(b) && isSecretChar(b[j]) {
			j++
		}
		if i > 0 && b[i-1] == '\\' { // "\tSECRET": the t is not part of it
			for _, k := range [...]int{1, 3, 5} {
				if i+k <= j && escapeEnds(b[:i+k]) == k {
					i += k
					break
				}
			}
		}
		if j-i == 40 && (j == len(b) || b[j] != '=') {
			v := string(b[i:j])
			if mixed(v) && !placeholderSecret(v) {
				out = append(out, token{value: v, at: i, example: strings.Contains(v, "EXAMPLE")})
			}
		}
		i = j
	}
	return out
}

// mixed: an upper-case and a lower-case letter, and a digit, '/' or '+'.
func mixed(s string) bool {
	var upper, lower, other bool
	for _, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		default:
			other = true
		}
	}
	return upper && lower && other
}

func placeholderID(id string) bool {
	rest := id[4:]
	return longestRun(rest) >= 5 || distinct(rest) < 6 || stepsUp(rest) >= 6 || entropy(id) < 3
}

func placeholderSecret(s string) bool {
	return longestRun(s) >= 5 || stepsUp(s) >= 8 || entropy(s) < 4
}

func longestRun(s string) int {
	best, run := 0, 0
	for i := range len(s) {
		if i > 0 && s[i] == s[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return best
}

func distinct(s string) int {
	var set [256]bool
	n := 0
	for _, c := range []byte(s) {
		if !set[c] {
			set[c], n = true, n+1
		}
	}
	return n
}

// stepsUp counts neighbours one apart in ASCII: ABCD, 1234.
func stepsUp(s string) int {
	n := 0
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1]+1 {
			n++
		}
	}
	return n
}

// entropy is the Shannon entropy of s, in bits per character.
func entropy(s string) float64 {
	var counts [256]int
	for _, c := range []byte(s) {
		counts[c]++
	}
	var h float64
	for _, n := range counts {
		if n > 0 {
			p := float64(n) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}
