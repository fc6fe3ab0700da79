package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden makes the agent non-dumpable, as ssh-agent does: another process
// of the same user can then neither ptrace it nor read /proc/PID/mem, and
// /proc/PID/environ is root's only. Core dumps are off.
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return noCore()
}

func noCore() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("setting RLIMIT_CORE to 0: %w", err)
	}
	return nil
}
