// Package awsconfig reads and edits the AWS shared config file (~/.aws/config)
// in the INI dialect of the AWS CLI and aws-vault.
//
// Load is on broker's warm path (the AWS CLI runs `broker export` on every
// call), so it checks every line in one pass over the bytes, streaming the
// file through a small buffer, and keeps an 8-byte entry per profile
// section. A profile's keys are parsed when Profile asks for them.
//
// Where this dialect differs from botocore (checked against botocore 1.43):
// botocore refuses a file with duplicate sections or keys, and keeps ` # x`
// as part of a value. Here a profile with two sections is an error when it
// is read (not the whole file: that would cost the warm path a pass over
// every section), later keys of a section win (as aws-vault's go-ini
// does), and a '#' or ';' after whitespace starts a comment (as in
// aws-sdk-go-v2). As in both, the first '=' or ':' of a key line is its
// delimiter.
package awsconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// MaxFileSize is the largest config file Load and Parse accept.
const MaxFileSize = 16 << 20

// ErrProfileNotFound is returned, wrapped with the profile's name, for a
// profile that has no section in the file.
var ErrProfileNotFound = errors.New("profile not found")

// ErrFileTooLarge is returned, wrapped with the path, for a file larger than
// MaxFileSize.
var ErrFileTooLarge = errors.New("config file is larger than 16 MiB")

// SyntaxError reports a malformed line. Msg describes the line; it never
// quotes the whole line, which may hold a secret.
type SyntaxError struct {
	Path string
	Line int // 1-based
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// LoopError reports a chain of profiles that leads back to itself through
// Key (include_profile here; broker also uses it for source_profile).
type LoopError struct {
	Chain []string // ends with the profile that closes the loop
	Key   string
}

func (e *LoopError) Error() string {
	key := e.Key
	if key == "" {
		key = "profile"
	}
	return key + " loop: " + strings.Join(e.Chain, " -> ")
}

// File is a parsed config file. It is safe for concurrent use.
//
// Load streams the file and keeps only an index of its profile sections: 8
// bytes each. Profile, Has and ProfileNames read what they need again, after
// checking that the file is still the one Load read. A config of 10,000
// profiles is 2 MB; holding it would cost broker's warm path more in page
// faults and GC than reading it twice costs.
type File struct {
	path string
	data []byte      // the whole file, when parsed from memory; nil when Load streamed it
	info fs.FileInfo // the file Load streamed; nil if it was missing
	secs []section   // [default] and [profile X] sections in file order, duplicates included
}

// section is one profile section. A hash stands for the name; a match is
// confirmed by reading the header.
type section struct {
	hash   uint32 // nameHash of the profile's name
	header uint32 // file offset of the [header] line; files are at most MaxFileSize
}

// nameHash is 32-bit FNV-1a.
func nameHash[T string | []byte](name T) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return h
}

// chunkSize is Load's read buffer: small enough to stay cheap, big enough
// that a few reads take a large file.
const chunkSize = 32 << 10

// Load reads and parses the config file at path. A missing file is an empty
// File.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		// A pipe or device cannot be read twice: keep it whole.
		data, err := readAll(fh)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return Parse(path, data)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, ErrFileTooLarge)
	}
	ix := &indexer{path: path, size: int(fi.Size())}
	if err := ix.stream(fh); err != nil {
		return nil, err
	}
	return &File{path: path, info: fi, secs: ix.secs}, nil
}

// stream scans r in chunks.
func (ix *indexer) stream(r io.Reader) error {
	buf := make([]byte, min(ix.size+1, chunkSize))
	base, filled := 0, 0
	for {
		n, err := r.Read(buf[filled:])
		filled += n
		eof := err == io.EOF
		if err != nil && !eof {
			return fmt.Errorf("reading config: %w", err)
		}
		if base+filled > MaxFileSize {
			return fmt.Errorf("%s: %w", ix.path, ErrFileTooLarge)
		}
		used, err := ix.scan(buf[:filled], base, eof)
		if err != nil || eof {
			return err
		}
		// Keep the unfinished last line; grow the buffer for a long one.
		copy(buf, buf[used:filled])
		base, filled = base+used, filled-used
		if filled == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
}

// readFile reads the file at path whole. A missing file is nil data and a
// nil FileInfo.
func readFile(path string) ([]byte, fs.FileInfo, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	if fi.Size() > MaxFileSize {
		return nil, nil, fmt.Errorf("%s: %w", path, ErrFileTooLarge)
	}
	data, err := readAll(fh)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, fi, nil
}

// readAll reads r whole, refusing more than MaxFileSize bytes.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, ErrFileTooLarge
	}
	return data, nil
}

// Parse parses data, the contents of the config file at path. The File
// keeps data: the caller must not change it afterwards.
func Parse(path string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, ErrFileTooLarge)
	}
	// Every header has a '[': count them to allocate secs once.
	ix := &indexer{path: path, size: len(data), secs: make([]section, 0, bytes.Count(data, []byte{'['}))}
	if _, err := ix.scan(data, 0, true); err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return &File{path: path, data: data, secs: ix.secs}, nil
}

// Path returns the path the File was loaded from.
func (f *File) Path() string { return f.path }

// ProfileNames returns the names of the profiles in the order they first
// appear; "default" for [default]. It returns nil if the file cannot be
// read again.
func (f *File) ProfileNames() []string {
	r, err := f.open()
	if err != nil {
		return nil
	}
	defer r.Close()
	names, err := r.names()
	if err != nil {
		return nil
	}
	seen := make(map[string]bool, len(names))
	uniq := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			uniq = append(uniq, n)
		}
	}
	return uniq
}

// Has reports whether the file has a section for the named profile.
func (f *File) Has(name string) bool {
	r, err := f.open()
	if err != nil {
		return false
	}
	defer r.Close()
	offs, err := r.headers(name)
	return err == nil && len(offs) > 0
}
