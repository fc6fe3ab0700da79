// Package atomicfile edits a user's file (~/.aws/config, ~/.aws/credentials)
// all at once: readers see the old file or the new one, never a mix; a crash
// leaves one of the two and no copy; two editors never lose each other's
// changes; and the file keeps its owner, group, mode and links.
//
// Where the lock lives. Every edit holds an exclusive lock (flock, or
// LockFileEx) on a lock file beside the file it edits, ".NAME.broker.lock"
// in the file's real folder (after following symlinks). Not on the file
// itself: the edit replaces the file's inode, so a process waiting on the
// old inode would get a lock nobody else takes. Not in broker's runtime
// folder: that folder is per user and per login (root under sudo, cron, a
// second machine sharing an NFS home each have another one), while the lock
// must be shared by everything that can edit this file, and that is decided
// by the file's own folder. The lock file holds nothing and is made 0600 for
// the folder's owner, so no other user can open it to hold the lock.
//
// Writers that are not broker (`aws configure set` rewrites the file in
// place) take no lock. Just before the rename, under the lock, Edit reads
// the file again; if it is not what the edit started from, it starts over
// from what is there now. After the rename it looks at the inode it
// replaced: a writer that had it open and wrote to it in between would lose
// its change with that inode, so Edit applies its change again on top of
// theirs.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MaxSize is the largest file Edit reads.
const MaxSize = 16 << 20

// Attempts is how often Edit starts over when another program keeps
// changing the file, before it gives up with ErrBusy.
const Attempts = 8

// lockWait bounds the wait for another broker process's edit.
const lockWait = 10 * time.Second

// ErrBusy means the file kept changing under the edit; nothing was lost,
// and the edit was not made.
var ErrBusy = errors.New("another program kept changing the file while broker was editing it")

// ErrTooLarge is returned for a file larger than MaxSize.
var ErrTooLarge = errors.New("the file is larger than 16 MiB")

// LinksError refuses a file with more than one hard link: replacing it
// would leave the other names holding the old contents (secrets
// included), and editing it in place could leave it half written.
type LinksError struct {
	Path  string
	Links uint64
}

func (e *LinksError) Error() string {
	return fmt.Sprintf("%s has %d hard links: broker replaces a file whole, which would leave the other names holding the old contents", e.Path, e.Links)
}

// testHookBeforeCheck runs just before the check that precedes the rename,
// and testHookAfterRename just after the rename; tests use them to write
// the way another program would.
var testHookBeforeCheck, testHookAfterRename func(path string)

// Edit replaces the file at path with change(old), where old is what the
// file holds (nil if it does not exist). It writes nothing when change
// returns the same bytes (or, for a missing file, none), and says whether
// it wrote. An error from change is returned as it is.
//
// change may be called more than once, with what the file holds at that
// moment, when another program writes the file during the edit; it must
// compute its result from old alone.
//
// A symlink is followed and its target edited (and created, folders
// included, when the link dangles), so the link survives. A new file gets
// mode 0600 and a new folder 0700. The new contents go to an unnamed file in
// the file's folder where the system has them (Linux O_TMPFILE), else to a
// hidden temporary name beside it; each edit first removes what a killed
// one left there. The new file gets the old one's mode, owner and group
// (created by root in another user's folder, that user's).
func Edit(path string, change func(old []byte) ([]byte, error)) (changed bool, err error) {
	real, err := resolve(path)
	if err != nil {
		return false, err
	}
	dir, base := filepath.Split(real)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		// Nothing to lock yet. Create the folder only if there is
		// something to write.
		out, err := change(nil)
		if err != nil || len(out) == 0 {
			return false, err
		}
		if err := mkdirOwned(dir); err != nil {
			return false, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	unlock, err := lockEdit(dir, base)
	if err != nil {
		return false, err
	}
	defer unlock()
	removeLeftovers(dir, base)

	cur, err := snapshot(real)
	if err == nil && cur.exists && len(cur.data) == 0 {
		cur, err = settle(cur, func() (state, error) { return snapshot(real) })
	}
	if err != nil {
		return false, err
	}
	defer func() { cur.close() }()
	from := cur.data // what change edits
	exists := cur.exists
	for attempt := 0; ; attempt++ {
		if attempt == Attempts {
			return changed, fmt.Errorf("%s: %w", path, ErrBusy)
		}
		if exists && cur.links > 1 {
			return changed, &LinksError{path, cur.links}
		}
		out, err := change(from)
		if err != nil {
			// A read torn by a writer that rewrites the file in place
			// (old start, new end) may not parse: start over from the
			// file as it is unless it is still what was read.
			if now, serr := snapshot(real); serr == nil && !now.same(cur) {
				now.close()
				cur.close()
				if cur, err = settled(real); err != nil {
					return changed, err
				}
				from, exists = cur.data, cur.exists
				continue
			} else if serr == nil {
				now.close()
			}
			return changed, err
		}
		if bytes.Equal(out, from) && (exists || len(out) == 0) {
			return changed, nil
		}
		tmp, err := newTemp(dir, base, cur.perm, cur.uid, cur.gid, out)
		if err != nil {
			return changed, fmt.Errorf("writing %s: %w", path, err)
		}
		if testHookBeforeCheck != nil {
			testHookBeforeCheck(real)
		}
		// Just before the rename: is the file still what was read?
		now, err := snapshot(real)
		if err != nil {
			tmp.discard()
			return changed, err
		}
		if !now.same(cur) {
			tmp.discard()
			now.close()
			cur.close()
			if cur, err = settled(real); err != nil {
				return changed, err
			}
			from, exists = cur.data, cur.exists
			continue
		}
		now.close()
		if !keepOpenAcrossRename {
			cur.close()
			cur.fh = nil
		}
		if err := tmp.replace(real); err != nil {
			return changed, fmt.Errorf("writing %s: %w", path, err)
		}
		changed = true
		syncDir(dir)
		if testHookAfterRename != nil {
			testHookAfterRename(real)
		}
		// A writer that opened the old file before the rename and wrote
		// to it after the check changed an inode nobody will read again.
		late, moved := cur.lateWrite()
		cur.close()
		if cur, err = snapshot(real); err != nil {
			return changed, err
		}
		if !moved {
			return changed, nil
		}
		from, exists = late, true
	}
}

// state is one read of the file, with the open file kept to see later
// writes to the same inode.
type state struct {
	fh       *os.File // nil if the file does not exist
	info     fs.FileInfo
	exists   bool
	data     []byte
	perm     fs.FileMode
	uid, gid int // -1: unknown, or a new file that takes what it gets
	links    uint64
}

// snapshot reads the file at path.
func snapshot(path string) (state, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		uid, gid := newFileOwner(filepath.Dir(path))
		return state{perm: 0o600, uid: uid, gid: gid}, nil
	}
	if err != nil {
		return state{}, err
	}
	fi, err := fh.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err == nil && fi.Size() > MaxSize {
		err = fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	var data []byte
	if err == nil {
		data, err = readAll(fh, 0)
	}
	if err != nil {
		fh.Close()
		return state{}, err
	}
	uid, gid, links := ownerOf(fi)
	return state{fh: fh, info: fi, exists: true, data: data, perm: fi.Mode().Perm(), uid: uid, gid: gid, links: links}, nil
}

// readAll reads fh from off to its end, at most MaxSize bytes.
func readAll(fh *os.File, off int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(fh, off, MaxSize+1), MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

func (s state) close() {
	if s.fh != nil {
		s.fh.Close()
	}
}

// same reports whether s and t are the same file (where both say which)
// with the same contents.
func (s state) same(t state) bool {
	switch {
	case s.exists != t.exists:
		return false
	case !s.exists:
		return true
	case s.info != nil && t.info != nil && !os.SameFile(s.info, t.info):
		return false
	}
	return bytes.Equal(s.data, t.data)
}

// lateWrite reports whether the file s read was written after s was taken,
// and what it holds now once it settles.
func (s state) lateWrite() ([]byte, bool) {
	if s.fh == nil {
		return nil, false
	}
	now, err := readAll(s.fh, 0)
	if err != nil || bytes.Equal(now, s.data) {
		return nil, false
	}
	st, err := settle(state{exists: true, data: now}, func() (state, error) {
		data, err := readAll(s.fh, 0)
		return state{exists: true, data: data}, err
	})
	if err != nil {
		return nil, false
	}
	return st.data, true
}

// settled reads the file at path once it has stopped changing.
func settled(path string) (state, error) {
	first, err := snapshot(path)
	if err != nil {
		return state{}, err
	}
	return settle(first, func() (state, error) { return snapshot(path) })
}

// emptyWait is how long an empty file must stay empty to count as settled,
// and settleMax bounds the wait for a file to settle.
const (
	emptyWait = 50 * time.Millisecond
	settleMax = time.Second
)

// settle reads again until two reads a moment apart agree, starting from
// prev: a writer caught between its truncate and its write (as `aws
// configure set` does them) is waited for, never edited half way. An empty
// file must stay empty for emptyWait.
func settle(prev state, read func() (state, error)) (state, error) {
	began := time.Now()
	since := began // prev's contents have been there since
	for wait := 500 * time.Microsecond; time.Since(began) < settleMax; wait = min(2*wait, 8*time.Millisecond) {
		time.Sleep(wait)
		next, err := read()
		if err != nil {
			prev.close()
			return state{}, err
		}
		if !next.same(prev) {
			prev.close()
			prev, since, wait = next, time.Now(), 250*time.Microsecond
			continue
		}
		next.close()
		if !prev.exists || len(prev.data) > 0 || time.Since(since) >= emptyWait {
			return prev, nil
		}
	}
	return prev, nil
}

// resolve follows symlinks to the file they name, which need not exist: a
// dotfile manager's link may point at a file not made yet.
func resolve(path string) (string, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			break
		}
		if err != nil {
			return "", err
		}
		if hops == 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", path)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	// The folder's own links, so that every name of the file shares one
	// lock.
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	return p, nil
}

// mkdirOwned creates dir and missing parents, 0700, owned like the folder
// they are made in.
func mkdirOwned(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		uid, gid := newFileOwner(filepath.Dir(missing[i]))
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if uid >= 0 {
			if err := os.Lchown(missing[i], uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockEdit takes the edit lock of the file base in dir.
func lockEdit(dir, base string) (unlock func(), err error) {
	name := filepath.Join(dir, "."+base+".broker.lock")
	f, err := openLock(name)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file %s: %w", name, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", name, err)
		}
		if ok {
			return func() { unlockFile(f); f.Close() }, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another process has held the lock %s for %v", name, lockWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tempPrefix and tempSuffix name broker's temporary files beside base.
func tempPrefix(base string) string { return "." + base + ".broker-" }

const tempSuffix = ".tmp"

// removeLeftovers deletes, under the lock, the temporary files a killed
// edit of base left in dir: broker's own, and those of versions that named
// them .BASE.DIGITS.tmp (os.CreateTemp's pattern).
func removeLeftovers(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, "."+base+".")
		if !ok || !strings.HasSuffix(rest, tempSuffix) || !e.Type().IsRegular() {
			continue
		}
		mid := strings.TrimSuffix(rest, tempSuffix)
		_, digits := strconv.ParseUint(mid, 10, 64)
		if strings.HasPrefix(name, tempPrefix(base)) || digits == nil {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// syncDir makes a rename in dir durable, where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// HardLinks returns how many names the file has (1 where the system does
// not say).
func HardLinks(fi fs.FileInfo) uint64 {
	_, _, n := ownerOf(fi)
	return n
}
