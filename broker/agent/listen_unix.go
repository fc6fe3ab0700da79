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

	"github.com/broker-dev/broker/broker/agent/wire"
	"golang.org/x/sys/unix"
)

// listen makes dir private (wire.EnsureDir), takes the agent's lock in it
// (one agent per folder; the kernel drops the lock when the agent dies, so
// a killed agent blocks nobody), replaces a stale socket and listens on a
// new one with mode 0600. release closes the lock and removes the socket if
// it is still the one made here.
func listen(dir string) (ln *net.UnixListener, release func(), err error) {
	if !wire.Supported {
		return nil, nil, errors.New("the broker agent is not supported on this system")
	}
	if err := wire.EnsureDir(dir); err != nil {
		return nil, nil, fmt.Errorf("the agent's folder: %w", err)
	}
	lockFile, err := os.OpenFile(filepath.Join(dir, "agent.lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the agent's lock: %w", err)
	}
	if err := unix.Flock(int(lockFile.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lockFile.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, ErrRunning
		}
		return nil, nil, fmt.Errorf("locking the agent's folder: %w", err)
	}
	sock := filepath.Join(dir, wire.SocketName)
	// Holding the lock, no other agent serves this socket: whatever is
	// there is stale (a killed agent's), or planted. Remove never follows
	// a link.
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		lockFile.Close()
		return nil, nil, fmt.Errorf("removing the stale socket: %w", err)
	}
	old := unix.Umask(0o177) // the socket is born 0600
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		lockFile.Close()
		return nil, nil, fmt.Errorf("listening on %s: %w", sock, err)
	}
	ln.SetUnlinkOnClose(false)
	mine, err := os.Lstat(sock)
	if err == nil {
		err = wire.CheckSocket(sock)
	}
	if err != nil {
		ln.Close()
		lockFile.Close()
		return nil, nil, err
	}
	release = func() {
		ln.Close()
		// The folder may have been replaced meanwhile; remove only our own.
		if now, err := os.Lstat(sock); err == nil && os.SameFile(now, mine) {
			os.Remove(sock)
		}
		lockFile.Close()
	}
	return ln, release, nil
}
