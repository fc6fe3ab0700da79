//go:build unix

package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
	"golang.org/x/sys/unix"
)

// listen makes dir private (wire.EnsureDir), takes the agent's lock in it
// (one agent per folder; the kernel drops the lock when the agent dies, so
// a killed agent blocks nobody), replaces a stale socket and listens on a
// new one with mode 0600. release closes the lock and removes the socket if
// it is still the one made here. intact reports whether the folder and
// socket are still the private ones made here.
func listen(dir string) (ln *net.UnixListener, release func(), intact func() error, err error) {
	if !wire.Supported {
		return nil, nil, nil, errors.New("the broker agent is not supported on this system")
	}
	if err := wire.EnsureDir(dir); err != nil {
		return nil, nil, nil, fmt.Errorf("the agent's folder: %w", err)
	}
	lockFile, err := os.OpenFile(filepath.Join(dir, "agent.lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the agent's lock: %w", err)
	}
	if err := lockAgent(dir, lockFile); err != nil {
		lockFile.Close()
		return nil, nil, nil, err
	}
	sock := filepath.Join(dir, wire.SocketName)
	// Holding the lock, no other agent serves this socket: whatever is
	// there is stale (a killed agent's), or planted. Remove never follows
	// a link.
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		lockFile.Close()
		return nil, nil, nil, fmt.Errorf("removing the stale socket: %w", err)
	}
	old := unix.Umask(0o177) // the socket is born 0600
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		lockFile.Close()
		return nil, nil, nil, fmt.Errorf("listening on %s: %w", sock, err)
	}
	ln.SetUnlinkOnClose(false)
	mine, err := os.Lstat(sock)
	if err == nil {
		err = wire.CheckSocket(sock)
	}
	if err != nil {
		ln.Close()
		lockFile.Close()
		return nil, nil, nil, err
	}
	release = func() {
		ln.Close()
		// The folder may have been replaced meanwhile; remove only our own.
		if now, err := os.Lstat(sock); err == nil && os.SameFile(now, mine) {
			os.Remove(sock)
		}
		lockFile.Close()
	}
	intact = func() error {
		if err := wire.CheckDir(dir); err != nil {
			return err
		}
		now, err := os.Lstat(sock)
		if err != nil {
			return err
		}
		if !os.SameFile(now, mine) {
			return fmt.Errorf("%s was replaced", sock)
		}
		return wire.CheckSocket(sock)
	}
	return ln, release, intact, nil
}

// lockWait is how long a new agent waits for the lock while the agent
// holding it cannot be reached (it leaves within a second of finding its
// folder or socket tampered with; see Server.watch).
const lockWait = 2 * time.Second

// lockAgent takes the agent's lock: at once, or, while no agent answers
// on the socket, within lockWait.
func lockAgent(dir string, f *os.File) error {
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("locking the agent's folder: %w", err)
		}
		if c, err := wire.Dial(dir); err == nil {
			c.Close()
			return ErrRunning
		}
		if time.Now().After(deadline) {
			return ErrRunning
		}
		time.Sleep(20 * time.Millisecond)
	}
}
