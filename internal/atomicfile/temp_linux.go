package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// unnamedTemp opens a file with no name in dir (O_TMPFILE): a process
// killed before the rename leaves nothing behind.
func unnamedTemp(dir string) (*temp, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err // the file system has no unnamed files: use a name
	}
	return &temp{f: os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), dir: dir}, nil
}

// linkTemp gives the unnamed file f the name name.
func linkTemp(f *os.File, name string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		// No /proc: AT_EMPTY_PATH, which needs CAP_DAC_READ_SEARCH.
		if err2 := unix.Linkat(int(f.Fd()), "", unix.AT_FDCWD, name, unix.AT_EMPTY_PATH); err2 == nil {
			return nil
		}
		return &os.LinkError{Op: "linkat", Old: f.Name(), New: name, Err: err}
	}
	return nil
}
