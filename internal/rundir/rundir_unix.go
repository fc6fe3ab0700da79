//go:build unix

package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Dir returns broker's runtime folder, creating it (mode 0700):
//
//  1. $XDG_RUNTIME_DIR/broker, when XDG_RUNTIME_DIR is the user's own
//     folder (under `sudo -E`, root skips the user's). Only root can put a
//     foreign folder there: that is an error (*ForeignError), with a hint.
//  2. Else broker-UID in the temp folder ($TMPDIR or /tmp), when it is the
//     user's own real folder (or can be made so). Another user can create
//     that name first, as a folder or a link: it is then neither used nor
//     followed, and
//  3. the user's cache folder is: $XDG_CACHE_HOME/broker/run or
//     ~/.cache/broker/run.
//
// Every process of the user makes the same choice from the same folders, so
// they share their locks. A folder is only used when it is a real folder
// (or a link the user owns to one), owned by the user, in a parent that no
// other user can rename it out of; its mode is set to 0700.
func Dir() (string, error) {
	uid := os.Getuid()
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" && ownedBy(xdg, uid) {
		return ensured(filepath.Join(xdg, "broker"))
	}
	tmp := filepath.Join(os.TempDir(), fmt.Sprintf("broker-%d", uid))
	if err := Ensure(tmp); err == nil {
		return tmp, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a private folder for broker's locks (%s is not usable): %w", tmp, err)
	}
	if !ownedBy(cache, uid) {
		if err := os.MkdirAll(cache, 0o700); err != nil || !ownedBy(cache, uid) {
			return "", fmt.Errorf("finding a private folder for broker's locks: neither %s nor %s is yours", tmp, cache)
		}
	}
	if err := os.MkdirAll(filepath.Join(cache, "broker"), 0o700); err != nil {
		return "", fmt.Errorf("creating broker's runtime folder: %w", err)
	}
	return ensured(filepath.Join(cache, "broker", "run"))
}

func ensured(dir string) (string, error) {
	if err := Ensure(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Ensure creates dir (mode 0700) unless it exists, and checks that it is
// the user's own private folder (see Dir), setting its mode to 0700.
func Ensure(dir string) error {
	uid := os.Getuid()
	if err := safeParent(filepath.Dir(dir), uid); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating broker's runtime folder: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking broker's runtime folder: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// Never follow a link another user made.
		if owner(fi) != uid {
			return &ForeignError{Path: dir, UID: owner(fi), Link: true}
		}
		if fi, err = os.Stat(dir); err != nil {
			return fmt.Errorf("checking broker's runtime folder: %w", err)
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("broker's runtime folder %s is not a folder", dir)
	}
	if owner(fi) != uid {
		return &ForeignError{Path: dir, UID: owner(fi)}
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("making broker's runtime folder private: %w", err)
		}
	}
	return nil
}

// safeParent refuses a parent folder in which another user could rename
// broker's folder away and put their own: one they own, or one anybody may
// write without the sticky bit (which /tmp has).
func safeParent(parent string, uid int) error {
	fi, err := os.Stat(parent)
	if err != nil {
		return fmt.Errorf("checking %s: %w", parent, err)
	}
	if o := owner(fi); o != uid && o != 0 {
		return &ForeignError{Path: parent, UID: o}
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%s is writable by other users and not sticky: no place for broker's locks", parent)
	}
	return nil
}

func ownedBy(path string, uid int) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir() && owner(fi) == uid
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
