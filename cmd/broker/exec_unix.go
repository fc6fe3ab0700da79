//go:build unix

package main

import (
	"errors"
	"fmt"
	"syscall"
)

// runChild replaces broker with the command: no process sits between it and
// the terminal, so every signal reaches it and its exit status is the one the
// caller sees. Credentials travel in the environment, never in argv.
func runChild(path string, argv, env []string) error {
	err := syscall.Exec(path, argv, env)
	return execError(path, err)
}

// execError is the failure to start path, with the status a shell gives it:
// 127 for a missing interpreter, 126 for anything else that cannot run.
func execError(path string, err error) error {
	if err == nil {
		return nil
	}
	code := 126
	if errors.Is(err, syscall.ENOENT) {
		code = 127
	}
	return codedError{fmt.Errorf("running %s: %w", path, err), code}
}
