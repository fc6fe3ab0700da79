package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The record says which backend holds a user's keys, so that every broker
// reads them from where they were stored, whatever its environment: a shell
// over SSH has no session bus, where the desktop's has the Secret Service,
// and quietly choosing the kernel keyring there would show every key as
// missing. It is one line, the backend's name, written when the first key
// is stored and never changed by broker.

// RecordPath is broker's record: backend in broker's folder under the
// user's config folder ($XDG_CONFIG_HOME or ~/.config on Linux).
func RecordPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the folder for broker's settings: %w", err)
	}
	return filepath.Join(dir, "broker", "backend"), nil
}

// readRecord returns the backend path records, "" when there is none.
func readRecord(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading which keychain holds the keys: %w", err)
	}
	name := strings.TrimSpace(string(b))
	if !slices.Contains(backends, name) {
		return "", &BackendError{
			Backend: name,
			Reason:  fmt.Sprintf("recorded in %s, is not a backend broker knows (%s)", path, strings.Join(backends, ", ")),
			Hint:    fmt.Sprintf("write the backend that holds your keys into %s, or delete it if you have stored none", path),
		}
	}
	return name, nil
}

// recordBackend records the vault's backend, before its first key is
// stored. A record made meanwhile by another process must name the same.
func (v *Vault) recordBackend() error {
	if v.record == "" {
		return nil
	}
	v.recordMu.Lock()
	defer v.recordMu.Unlock()
	if v.recorded {
		return nil
	}
	name := v.Backend()
	if err := os.MkdirAll(filepath.Dir(v.record), 0o700); err != nil {
		return fmt.Errorf("recording the keychain backend: %w", err)
	}
	f, err := os.OpenFile(v.record, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		got, err := readRecord(v.record)
		if err != nil {
			return err
		}
		if got != name {
			return &BackendError{Backend: name, Reason: fmt.Sprintf("another broker has just recorded the %s keychain in %s", got, v.record),
				Hint: "run the command again"}
		}
		v.recorded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("recording the keychain backend: %w", err)
	}
	_, err = f.WriteString(name + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(v.record)
		return fmt.Errorf("recording the keychain backend in %s: %w", v.record, err)
	}
	v.recorded = true
	return nil
}
