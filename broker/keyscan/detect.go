// Package keyscan finds AWS access key IDs and secret access keys in files.
// It never calls AWS, never prints and never puts a secret in an error:
// Finding.Value holds what was found, for the caller to compare, and
// Finding.Masked is what may be shown.
//
// Rules:
//
//   - An access key ID is AKIA or ASIA followed by 16 upper-case letters or
//     digits (AWS uses base32, A-Z and 2-7; moto also uses 0, 1, 8 and 9),
//     with no letter or digit right before or after it.
//   - A secret is a run of exactly 40 characters from A-Z, a-z, 0-9, '/'
//     and '+', with none of those (nor '=') right before or after it, that
//     has an upper-case and a lower-case letter and a digit, '/' or '+',
//     on a line where the word "secret" (any case) comes before it:
//     aws_secret_access_key = …, AWS_SECRET_ACCESS_KEY=…,
//     "SecretAccessKey": "…", secret: …. A 40-character hex digest (a git
//     commit) has no upper-case letter and is never a secret.
//   - A value containing "EXAMPLE" is AWS's documentation example
//     (AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY):
//     reported with Example set, for the caller not to count.
package keyscan

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// Kind is what a finding is.
type Kind string

// Kinds of findings.
const (
	LongTermKeyID  Kind = "access-key-id"           // AKIA…
	TemporaryKeyID Kind = "temporary-access-key-id" // ASIA…
	Secret         Kind = "secret-access-key"
)

// Finding is one key ID or secret in one line of a file.
type Finding struct {
	Path    string `json:"file"`
	Line    int    `json:"line"`
	Kind    Kind   `json:"kind"`
	Masked  string `json:"value"`   // AKIA****WXYZ for IDs; nothing of a secret
	Example bool   `json:"example"` // AWS's documentation example: not counted
	Value   string `json:"-"`       // what was found: never print it
}

// The patterns compile on first use: every broker command links this
// package, and the warm credential_process call must not pay for them.
var (
	keyIDPattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`A[KS]IA[A-Z0-9]{16}`) })
	secretPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[A-Za-z0-9/+]{40}`) })
)

// MaskID shows an access key ID's kind and last four characters: AKIA****WXYZ.
func MaskID(id string) string {
	if len(id) < 12 {
		return "****"
	}
	return id[:4] + "****" + id[len(id)-4:]
}

// maskedSecret is all that is ever shown of a secret.
const maskedSecret = "(secret hidden)"

// Lines returns the findings in data, the contents of the file at path.
func Lines(path string, data []byte) []Finding {
	var out []Finding
	for num := 1; len(data) > 0; num++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		out = append(out, inLine(path, num, line)...)
	}
	return out
}

// inLine returns the findings in one line.
func inLine(path string, num int, line []byte) []Finding {
	var out []Finding
	if bytes.Contains(line, []byte("IA")) {
		for _, m := range keyIDPattern().FindAllIndex(line, -1) {
			if alnumAt(line, m[0]-1) || alnumAt(line, m[1]) {
				continue
			}
			id := string(line[m[0]:m[1]])
			kind := LongTermKeyID
			if strings.HasPrefix(id, "ASIA") {
				kind = TemporaryKeyID
			}
			out = append(out, Finding{Path: path, Line: num, Kind: kind, Masked: MaskID(id),
				Example: strings.Contains(id, "EXAMPLE"), Value: id})
		}
	}
	word := indexFold(line, "secret")
	if word < 0 {
		return out
	}
	word += len("secret")
	for _, m := range secretPattern().FindAllIndex(line[word:], -1) {
		s, e := word+m[0], word+m[1]
		if secretCharAt(line, s-1) || secretCharAt(line, e) || (e < len(line) && line[e] == '=') {
			continue
		}
		v := string(line[s:e])
		if !mixed(v) {
			continue
		}
		out = append(out, Finding{Path: path, Line: num, Kind: Secret, Masked: maskedSecret,
			Example: strings.Contains(v, "EXAMPLE"), Value: v})
	}
	return out
}

func alnumAt(b []byte, i int) bool {
	if i < 0 || i >= len(b) {
		return false
	}
	c := b[i]
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func secretCharAt(b []byte, i int) bool {
	return alnumAt(b, i) || i >= 0 && i < len(b) && (b[i] == '/' || b[i] == '+')
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

// indexFold is the index of the first ASCII-case-insensitive match of word
// (lower case) in b, or -1.
func indexFold(b []byte, word string) int {
	for i := 0; i+len(word) <= len(b); i++ {
		j := 0
		for j < len(word) && b[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return i
		}
	}
	return -1
}
