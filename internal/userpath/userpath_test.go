package userpath

import (
	"path/filepath"
	"testing"
)

func TestExpand(t *testing.T) {
	home := filepath.FromSlash("/home/me")
	tests := []struct{ in, want string }{
		{"~", home},
		{"~/", home},
		{"~/cfg", filepath.Join(home, "cfg")},
		{"~/.aws/config", filepath.Join(home, ".aws", "config")},
		{"~bob/cfg", "~bob/cfg"},
		{"/etc/~/cfg", "/etc/~/cfg"},
		{"cfg~", "cfg~"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, home); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Expand("~/cfg", ""); got != "~/cfg" {
		t.Errorf("without a home: %q", got)
	}
}
