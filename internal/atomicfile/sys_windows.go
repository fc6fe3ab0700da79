//go:build windows

package atomicfile

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// Windows cannot rename over a file that is open.
const keepOpenAcrossRename = false

// ownerOf: Windows files keep their ACL on rename; os reports no links.
func ownerOf(fs.FileInfo) (uid, gid int, links uint64) { return -1, -1, 1 }

func newFileOwner(string) (uid, gid int) { return -1, -1 }

func keepOwner(*os.File, int, int) error { return nil }

func openLock(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
}

func tryLock(f *os.File) (bool, error) {
	ol := new(windows.Overlapped)
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

func unlockFile(f *os.File) {
	_ = windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
