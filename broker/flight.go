package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Single flight across processes: before minting a session, a process takes
// an exclusive lock on a file named after the session's cache id. The others
// wait on the same file and, once it is theirs, find the session in the cache.
// The lock files hold nothing; the OS drops a lock when its process dies, so a
// killed broker never leaves a stale lock behind.

// lockPoll is how often a waiting process retries the lock.
const lockPoll = 20 * time.Millisecond

// DefaultLockDir is $XDG_RUNTIME_DIR/broker, or a per-user folder in the temp dir.
func DefaultLockDir() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "broker")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("broker-%d", os.Getuid()))
}

// lock takes the lock named id in dir, waiting until ctx ends.
func lock(ctx context.Context, dir, id string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating lock folder: %w", err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
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
