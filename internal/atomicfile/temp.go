package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
)

// temp is the new contents before they replace the file: an unnamed file
// (name == "") or a hidden temporary one beside it.
type temp struct {
	f    *os.File
	dir  string
	name string
}

// namedTemp makes the temporary file under a hidden name in dir, 0600
// until fill sets the mode: it may hold secrets the file held.
func namedTemp(dir, base string) (*temp, error) {
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*"+tempSuffix)
	if err != nil {
		return nil, err
	}
	return &temp{f: f, dir: dir, name: f.Name()}, nil
}

// fill gives the file its owner, group and mode, then the data, durably.
// The owner comes first: the data is never readable by a group the file
// did not have.
func (t *temp) fill(perm fs.FileMode, uid, gid int, data []byte) error {
	if uid >= 0 {
		if err := keepOwner(t.f, uid, gid); err != nil {
			return err
		}
	}
	if err := t.f.Chmod(perm); err != nil {
		return err
	}
	if _, err := t.f.Write(data); err != nil {
		return err
	}
	return t.f.Sync()
}

// newTemp makes the temporary file for base in dir, holding data.
func newTemp(dir, base string, perm fs.FileMode, uid, gid int, data []byte) (*temp, error) {
	t, err := unnamedTemp(dir)
	if err != nil {
		if t, err = namedTemp(dir, base); err != nil {
			return nil, err
		}
	}
	if err := t.fill(perm, uid, gid, data); err != nil {
		t.discard()
		return nil, err
	}
	return t, nil
}

// discard drops the temporary file.
func (t *temp) discard() {
	t.f.Close()
	if t.name != "" {
		os.Remove(t.name)
	}
}

// replace renames the temporary file over path. An unnamed one first gets
// a name beside path, for as long as two system calls take.
func (t *temp) replace(path string) error {
	if t.name == "" {
		name := filepath.Join(t.dir, tempPrefix(filepath.Base(path))+randomName()+tempSuffix)
		if err := linkTemp(t.f, name); err != nil {
			t.f.Close()
			return err
		}
		t.name = name
	}
	if err := t.f.Close(); err != nil {
		os.Remove(t.name)
		return err
	}
	if err := os.Rename(t.name, path); err != nil {
		os.Remove(t.name)
		return err
	}
	return nil
}

func randomName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
