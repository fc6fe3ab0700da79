//go:build unix

package main

import "syscall"

// handOver replaces this process with broker and args; it returns only
// when that fails.
func handOver(args, env []string) int {
	path, err := brokerPath()
	if err == nil {
		err = syscall.Exec(path, append([]string{path}, args...), env)
	}
	return fail(err)
}
