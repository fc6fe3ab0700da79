//go:build windows

package rundir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns broker's runtime folder, creating it: $XDG_RUNTIME_DIR/broker
// when set, else broker in the user's own temp folder (%TEMP%, under the
// user's profile, which other users cannot write).
func Dir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "broker")
	if err := Ensure(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Ensure creates dir unless it exists.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating broker's runtime folder: %w", err)
	}
	return nil
}
