package main

import (
	"errors"
	"os"
	"os/exec"
)

// handOver runs broker with args and returns its exit code (Windows has
// no exec, and no agent: every call is broker export's).
func handOver(args, env []string) int {
	path, err := brokerPath()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return fail(err)
	}
	return 0
}
