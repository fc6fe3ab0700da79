//go:build !linux && !darwin

package agent

import "errors"

// Harden: the agent runs only on Linux and macOS.
func Harden() error { return errors.New("the broker agent is not supported on this system") }
