//go:build windows

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
)

// runChild runs the command and passes on its exit code. Ctrl-C reaches the
// child through the console; broker ignores it and waits.
func runChild(path string, argv, env []string) error {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	signal.Ignore(os.Interrupt)
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitCode(exit.ExitCode())
	}
	return execError(path, err)
}

// execError is the failure to start path; 126, as a shell reports a
// command it cannot run.
func execError(path string, err error) error {
	if err == nil {
		return nil
	}
	return codedError{fmt.Errorf("running %s: %w", path, err), 126}
}
