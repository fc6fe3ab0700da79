package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/broker-dev/broker/internal/rundir"
)

// Single flight across processes: before minting a session, a process takes
// an exclusive lock on a file named after the session's cache id. The others
// wait on the same file and, once it is theirs, find the session in the cache.
// The lock files hold nothing; the OS drops a lock when its process dies, so a
// killed broker never leaves a stale lock behind.

// lockPoll is how often a waiting process retries the lock.
const lockPoll = 20 * time.Millisecond

// RuntimeDir returns broker's private per-user folder, creating it: the
// lock files' folder, for anything else that must be private to the user
// (the agent's socket) too. See rundir.Dir for where it is and why nobody
// else can block or redirect it.
func RuntimeDir() (string, error) { return rundir.Dir() }

// lock takes the lock named id in dir (RuntimeDir when ""), waiting until
// ctx ends.
func lock(ctx context.Context, dir, id string) (unlock func(), err error) {
	if dir == "" {
		if dir, err = RuntimeDir(); err != nil {
			return nil, err
		}
	} else if err := rundir.Ensure(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, id+".lock"), os.O_CREATE|os.O_RDWR|noFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if ok {
			return func() { unlockFile(f); f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}
