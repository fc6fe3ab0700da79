//go:build unix

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The file read before the rename stays open across it, to see writes
// made to it afterwards.
const keepOpenAcrossRename = true

// ownerOf returns a file's owner, group and number of hard links.
func ownerOf(fi fs.FileInfo) (uid, gid int, links uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, 1
	}
	return int(st.Uid), int(st.Gid), uint64(st.Nlink)
}

// newFileOwner is who a file made in dir should belong to: root (sudo -E
// broker setup) making one in another user's folder gives it to that user
// and the folder's group, so the user is not locked out of their own
// config. -1 means whoever creates it.
func newFileOwner(dir string) (uid, gid int) {
	if os.Geteuid() != 0 {
		return -1, -1
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return -1, -1
	}
	uid, gid, _ = ownerOf(fi)
	if uid == 0 {
		return -1, -1
	}
	return uid, gid
}

// keepOwner gives f the owner uid and group gid, unless it has them.
func keepOwner(f *os.File, uid, gid int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if u, g, _ := ownerOf(fi); u == uid && g == gid {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("keeping the file's owner (uid %d) and group (gid %d): %w", uid, gid, err)
	}
	return nil
}

// openLock opens (and makes) the lock file, never through a symlink.
func openLock(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if uid, gid := newFileOwner(filepath.Dir(name)); uid >= 0 {
		if err := keepOwner(f, uid, gid); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlockFile(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }
