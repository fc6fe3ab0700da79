package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden turns core dumps off. macOS has no PR_SET_DUMPABLE; its
// task_for_pid checks keep other users' processes out.
func Harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("setting RLIMIT_CORE to 0: %w", err)
	}
	return nil
}
