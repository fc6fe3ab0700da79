//go:build unix

package main

import (
	"os"
	"syscall"
)

// handOver replaces this process with broker and args; it returns only
// when that fails.
func handOver(args []string) int {
	path, err := brokerPath()
	if err == nil {
		err = syscall.Exec(path, append([]string{path}, args...), os.Environ())
	}
	return fail(err)
}
