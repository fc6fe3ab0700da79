package mfa

import (
	"errors"
	"strings"
	"testing"
)

func TestParseYkman(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"123456\n", "123456"},
		{"aws:alice  123456\n", "123456"},
		{"Amazon Web Services:alice@example.com   000123\r\n", "000123"},
		{"", ""},
		{"\n", ""},
		{"aws:alice\n", ""},
		{"a  123456\nb  654321\n", ""},
		{"12345\n", ""},
	}
	for _, tt := range tests {
		got, err := parseYkman(tt.in)
		if tt.want != "" {
			if err != nil || got != tt.want {
				t.Errorf("parseYkman(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidCode) {
			t.Errorf("parseYkman(%q) = %q, %v; want ErrInvalidCode", tt.in, got, err)
		}
	}
}

// FuzzParseYkman: a code or an error wrapping ErrInvalidCode whose text
// is one of a fixed few, never the input.
func FuzzParseYkman(f *testing.F) {
	for _, s := range []string{"123456\n", "aws:alice  123456\n", "a 1\nb 2\n", "", "x"} {
		f.Add(s)
	}
	fixed := map[string]bool{errManyLines.Error(): true}
	for _, err := range []error{errCodeEmpty, errCodeNotDigit, errCodeLength} {
		fixed[err.Error()] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := parseYkman(s)
		if err != nil {
			if code != "" || !errors.Is(err, ErrInvalidCode) || !fixed[err.Error()] {
				t.Fatalf("parseYkman(%q) = %q, %v", s, code, err)
			}
			return
		}
		if _, perr := Parse(code); perr != nil || !strings.Contains(s, code) {
			t.Fatalf("parseYkman(%q) = %q: not a code from the input", s, code)
		}
	})
}
