package mfa

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means an error
	}{
		{"good", "123456", "123456"},
		{"leading zeros", "000123", "000123"},
		{"trailing newline", "123456\n", "123456"},
		{"windows line end", "123456\r\n", "123456"},
		{"surrounding spaces and tabs", " \t123456 \t", "123456"},
		{"five digits", "12345", ""},
		{"seven digits", "1234567", ""},
		{"space inside", "123 456", ""},
		{"letters", "12a456", ""},
		{"all letters", "abcdef", ""},
		{"sign", "+12345", ""},
		{"arabic-indic digits", "١٢٣٤٥٦", ""},
		{"fullwidth digits", "１２３４５６", ""},
		{"non-breaking space", "\u00a0123456", ""},
		{"nul", "123456\x00", ""},
		{"two lines", "123456\n654321\n", ""},
		{"empty", "", ""},
		{"only white space", " \n\t", ""},
		{"huge", strings.Repeat("1", 1<<20), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = %q; want an error", tt.in, got)
			}
			if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("Parse(%q) error %v does not wrap ErrInvalidCode", tt.in, err)
			}
			if got != "" {
				t.Errorf("Parse(%q) returned %q with its error", tt.in, got)
			}
			if in := trimSpace(tt.in); len(in) >= 3 && strings.Contains(err.Error(), in) {
				t.Errorf("Parse(%q) error %q repeats the input", tt.in, err)
			}
		})
	}
}

// FuzzParse checks that Parse returns exactly 6 ASCII digits or an error,
// never panics, and never puts its input in an error. The last is checked
// in its strongest form: the error text is one of a fixed few, whatever the
// input (a plain "does not contain" test fails for inputs such as "code").
func FuzzParse(f *testing.F) {
	for _, s := range []string{"123456", "123456\n", " 000000 ", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "", "\n"} {
		f.Add(s)
	}
	fixed := map[string]bool{}
	for _, err := range []error{errCodeEmpty, errCodeNotDigit, errCodeLength} {
		fixed[err.Error()] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := Parse(s)
		if err != nil {
			if code != "" {
				t.Fatalf("Parse returned %q with error %v", code, err)
			}
			if !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("error %v does not wrap ErrInvalidCode", err)
			}
			if !fixed[err.Error()] {
				t.Fatalf("error text %q depends on the input", err)
			}
			return
		}
		if len(code) != 6 {
			t.Fatalf("Parse(%q) = %q: not 6 bytes", s, code)
		}
		for i := 0; i < len(code); i++ {
			if code[i] < '0' || code[i] > '9' {
				t.Fatalf("Parse(%q) = %q: not ASCII digits", s, code)
			}
		}
		if !strings.Contains(s, code) {
			t.Fatalf("Parse(%q) = %q: not taken from the input", s, code)
		}
	})
}

func TestPromptText(t *testing.T) {
	tests := []struct {
		r    Request
		want string
	}{
		{Request{Profile: "dev", Serial: "arn:aws:iam::123456789012:mfa/alice"}, "MFA code for arn:aws:iam::123456789012:mfa/alice (profile dev): "},
		{Request{Serial: "GAHT12345678"}, "MFA code for GAHT12345678: "},
		{Request{Profile: "dev"}, "MFA code for profile dev: "},
		{Request{}, "MFA code: "},
		{Request{Profile: "dev\x1b[2J\r"}, "MFA code for profile dev?[2J?: "},
	}
	for _, tt := range tests {
		if got := promptText(tt.r); got != tt.want {
			t.Errorf("promptText(%+v) = %q; want %q", tt.r, got, tt.want)
		}
	}
}
