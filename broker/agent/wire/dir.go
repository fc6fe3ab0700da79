// Package wire is what a client of the broker agent needs: where its socket
// is, how to check that folder and socket before trusting them, the request
// key that makes a warm answer equal to what `broker export` would print now,
// and the messages on the socket. It uses only the standard library and
// golang.org/x/sys, so the small credential_process client that links it
// starts as fast as a program that only prints JSON.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/broker-dev/broker/internal/rundir"
)

// SocketName is the agent's socket inside Dir.
const SocketName = "sock"

// Dir is the agent's folder: "agent" inside broker's private per-user
// runtime folder, where the session locks are (internal/rundir: created if
// missing, never another user's or a link of theirs). This is the one
// place that decides where the agent lives.
func Dir() (string, error) {
	dir, err := rundir.Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "agent"), nil
}

// ErrUnsafe says that the agent's folder or socket is not one only this
// user can reach: another owner, a mode that lets others in, a link.
var ErrUnsafe = errors.New("not private to this user")

// CheckDir refuses an agent folder that is a link, not a folder, owned by
// another user or open to others (mode other than 0700), or whose parent
// another user could write (they could swap the folder).
func CheckDir(dir string) error {
	if err := checkParent(filepath.Dir(dir)); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	return private(dir, fi, fs.ModeDir, 0o700)
}

// CheckSocket refuses a socket that is not a socket owned by this user with
// mode 0600 (or stricter).
func CheckSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	return private(path, fi, fs.ModeSocket, 0o600)
}

func checkParent(parent string) error {
	fi, err := os.Lstat(parent)
	if err != nil {
		return err
	}
	if uid, ok := owner(fi); ok && uid == os.Getuid() && fi.Mode().Type() == fs.ModeSymlink {
		// The runtime folder may be a link of the user's own (rundir).
		if fi, err = os.Stat(parent); err != nil {
			return err
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder: %w", parent, ErrUnsafe)
	}
	if uid, ok := owner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%s belongs to another user: %w", parent, ErrUnsafe)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by others: %w", parent, ErrUnsafe)
	}
	return nil
}

// private checks that fi is of type kind, owned by this user, with no
// permission bits outside perm.
func private(path string, fi fs.FileInfo, kind fs.FileMode, perm fs.FileMode) error {
	if fi.Mode().Type() != kind {
		return fmt.Errorf("%s is a %s, not a %s: %w", path, typeName(fi.Mode().Type()), typeName(kind), ErrUnsafe)
	}
	if uid, ok := owner(fi); !ok || uid != os.Getuid() {
		return fmt.Errorf("%s belongs to another user: %w", path, ErrUnsafe)
	}
	if fi.Mode().Perm()&^perm != 0 {
		return fmt.Errorf("%s has mode %04o, not %04o: %w", path, fi.Mode().Perm(), perm, ErrUnsafe)
	}
	return nil
}

func typeName(t fs.FileMode) string {
	switch t {
	case fs.ModeDir:
		return "folder"
	case fs.ModeSocket:
		return "socket"
	case fs.ModeSymlink:
		return "link"
	case 0:
		return "file"
	}
	return "special file"
}

// EnsureDir makes dir the agent's private folder, for the agent itself. A
// folder (or anything else) in its place that CheckDir refuses is moved
// aside and removed, never followed or entered: the parent is this user's
// and not writable by others (or EnsureDir refuses), so nobody can swap
// what is renamed. The parent is created 0700 when missing.
func EnsureDir(dir string) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	if err := checkParent(parent); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case private(dir, fi, fs.ModeDir, 0o700) == nil:
		return nil
	default:
		aside := dir + ".refused-" + randomHex(6)
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("moving the unsafe %s aside: %w", dir, err)
		}
		// What another user left inside may not be removable; it is out
		// of the way either way.
		_ = os.RemoveAll(aside)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return CheckDir(dir)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AgentDirs are the agent folders this user's processes usually use: Dir's,
// and those of the other runtime folders broker chooses from in another
// environment ($XDG_RUNTIME_DIR/broker, /run/user/UID/broker, broker-UID in
// the temp folder or /tmp, the cache folder's): a cron job or an `su` login
// without XDG_RUNTIME_DIR uses the temp folder's. Commands that change keys
// tell each running agent found there to drop what it holds. Only Dir's is
// created; the others are listed when they exist.
func AgentDirs() []string {
	var dirs []string
	add := func(runDir string, mustExist bool) {
		dir := filepath.Join(runDir, "agent")
		if mustExist {
			if _, err := os.Lstat(dir); err != nil {
				return
			}
		}
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	if dir, err := Dir(); err == nil {
		add(filepath.Dir(dir), false)
	}
	uid := os.Getuid()
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
		add(filepath.Join(xdg, "broker"), true)
	}
	add(filepath.Join("/run/user", strconv.Itoa(uid), "broker"), true)
	add(filepath.Join(os.TempDir(), fmt.Sprintf("broker-%d", uid)), true)
	add(filepath.Join("/tmp", fmt.Sprintf("broker-%d", uid)), true)
	if cache, err := os.UserCacheDir(); err == nil {
		add(filepath.Join(cache, "broker", "run"), true)
	}
	return dirs
}
