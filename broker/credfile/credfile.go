// Package credfile reads the AWS shared credentials file
// (~/.aws/credentials, AWS_SHARED_CREDENTIALS_FILE) and removes long-term
// keys from it in place, leaving every other byte as it was.
//
// The dialect is the AWS CLI's: sections are [NAME] (not [profile NAME]),
// lines are `key = value`, '#' and ';' start comment lines, keys compare
// case-insensitively (botocore lowercases them), and an indented line after
// a key continues it (Python's configparser). A '#' or ';' after a blank
// ends a value, as in awsconfig. Anything else is a *SyntaxError, which
// never quotes the line: it may hold a secret.
package credfile

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/broker-dev/broker/internal/atomicfile"
)

// MaxFileSize is the largest credentials file Read accepts.
const MaxFileSize = 16 << 20

// Keys of the credentials file that this package reads.
const (
	KeyID        = "aws_access_key_id"
	KeySecret    = "aws_secret_access_key"
	KeyToken     = "aws_session_token"
	keySecurity  = "aws_security_token" // botocore's old name for the token
	maxNameBytes = 256
)

// SyntaxError reports a line the AWS CLI would refuse.
type SyntaxError struct {
	Path string
	Line int // 1-based
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// File is a parsed credentials file; Data is its bytes.
type File struct {
	Path     string
	Data     []byte
	Mode     fs.FileMode // permission bits, kept by Rewrite
	Sections []Section   // in file order, duplicates included
}

// Section is one [NAME] section.
type Section struct {
	Name  string
	Line  int // of the header
	start int // offset of the header line
	next  int // offset after the header line
	Keys  []Key
}

// Key is one `key = value` line with its continuation lines.
type Key struct {
	Name      string // lowercased
	Value     string // trimmed; continuation lines make it multi-line
	Line      int
	start     int // offset of the line
	next      int // offset after its last continuation line
	Continued bool
}

// Entry is a profile's credentials as the file holds them.
type Entry struct {
	Profile         string
	Line            int // of the aws_access_key_id line
	AccessKeyID     string
	SecretAccessKey string
	HasToken        bool // aws_session_token or aws_security_token: temporary credentials
	Problem         string
}

// Temporary reports whether the entry is temporary credentials, which
// stay in the file.
func (e Entry) Temporary() bool { return e.HasToken || strings.HasPrefix(e.AccessKeyID, "ASIA") }

// Read reads and parses the file at path; a symlink is read where it
// points, so Rewrite replaces the target and keeps the link.
func Read(path string) (*File, error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if n := atomicfile.HardLinks(fi); n > 1 {
		// Removing the keys would leave them under the other names.
		return nil, &atomicfile.LinksError{Path: path, Links: n}
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than 16 MiB", path)
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	f.Mode = fi.Mode().Perm()
	return f, nil
}

// Parse parses data, the contents of the credentials file at path.
func Parse(path string, data []byte) (*File, error) {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, &SyntaxError{path, 1, "binary data: not a credentials file"}
	}
	f := &File{Path: path, Data: data, Mode: 0o600}
	var cur *Section
	var last *Key // the key a continuation line extends
	for off, num := 0, 1; off < len(data); num++ {
		end, next := nextLine(data, off)
		line := string(data[off:end])
		trimmed := strings.TrimLeft(line, " \t")
		indented := len(trimmed) < len(line)
		switch {
		case strings.TrimSpace(trimmed) == "" || trimmed[0] == '#' || trimmed[0] == ';':
			// Blank lines and comments end nothing in configparser, but
			// a continuation must follow its key directly here: keep it
			// simple and never remove a comment.
			last = nil
		case indented && last != nil:
			last.Value += "\n" + strings.TrimSpace(trimmed)
			last.Continued = true
			last.next = next
		case trimmed[0] == '[':
			// configparser's section name runs to the last ']' and keeps
			// its blanks: refuse what broker would read otherwise.
			closing := strings.LastIndexByte(trimmed, ']')
			if closing < 0 {
				return nil, &SyntaxError{path, num, "section header has no closing ']'"}
			}
			name := trimmed[1:closing]
			if strings.TrimSpace(name) == "" || len(name) > maxNameBytes {
				return nil, &SyntaxError{path, num, "empty or overlong section name"}
			}
			if strings.ContainsAny(name, "[]") || strings.TrimSpace(name) != name {
				return nil, &SyntaxError{path, num, "a blank, '[' or ']' around or in a section name: the AWS CLI reads it as another profile"}
			}
			f.Sections = append(f.Sections, Section{Name: name, Line: num, start: off, next: next})
			cur, last = &f.Sections[len(f.Sections)-1], nil
		default:
			eq := strings.IndexByte(trimmed, '=')
			if eq < 0 {
				return nil, &SyntaxError{path, num, "line is not a [section] header, a comment, or key = value"}
			}
			name := strings.ToLower(strings.TrimSpace(trimmed[:eq]))
			if name == "" {
				return nil, &SyntaxError{path, num, "key = value line with no key before '='"}
			}
			if cur == nil {
				return nil, &SyntaxError{path, num, fmt.Sprintf("key %q before any section header", name)}
			}
			cur.Keys = append(cur.Keys, Key{Name: name, Value: value(trimmed[eq+1:]), Line: num, start: off, next: next})
			last = &cur.Keys[len(cur.Keys)-1]
		}
		off = next
	}
	return f, nil
}

// value trims v and drops an inline comment: '#' or ';' after a blank.
func value(v string) string {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimSpace(v)
}

// nextLine returns the end of the line at off (before "\r\n" or "\n") and
// the start of the next one.
func nextLine(data []byte, off int) (end, next int) {
	nl := bytes.IndexByte(data[off:], '\n')
	if nl < 0 {
		end, next = len(data), len(data)
	} else {
		end, next = off+nl, off+nl+1
	}
	if end > off && data[end-1] == '\r' {
		end--
	}
	return end, next
}

// Entries returns, per profile name in file order, the credentials the file
// holds. Problem is set for a profile broker must not import: a key or
// section given twice, a value continued over several lines, or a missing
// half of the pair.
func (f *File) Entries() []Entry {
	var order []string
	byName := map[string]*Entry{}
	counts := map[string]map[string]int{}
	for _, s := range f.Sections {
		e, ok := byName[s.Name]
		if !ok {
			e = &Entry{Profile: s.Name}
			byName[s.Name] = e
			counts[s.Name] = map[string]int{}
			order = append(order, s.Name)
		}
		for _, k := range s.Keys {
			switch k.Name {
			case KeyID, KeySecret:
				counts[s.Name][k.Name]++
				if k.Continued {
					e.Problem = k.Name + " continues over several lines"
				}
				if k.Name == KeyID {
					e.AccessKeyID, e.Line = k.Value, k.Line
				} else {
					e.SecretAccessKey = k.Value
				}
			case KeyToken, keySecurity:
				e.HasToken = true
			}
		}
	}
	var out []Entry
	for _, name := range order {
		e, c := byName[name], counts[name]
		if c[KeyID] == 0 && c[KeySecret] == 0 {
			continue
		}
		switch {
		case e.Problem != "":
		case c[KeyID] > 1 || c[KeySecret] > 1:
			e.Problem = "the key is given more than once"
		case c[KeyID] == 0:
			e.Problem = "aws_secret_access_key without aws_access_key_id"
		case c[KeySecret] == 0:
			e.Problem = "aws_access_key_id without aws_secret_access_key"
		}
		out = append(out, *e)
	}
	return out
}

// Without returns the file's bytes without the aws_access_key_id and
// aws_secret_access_key lines (and their continuation lines) of the named
// profiles. A section left with no key at all loses its header line too;
// comments and blank lines always stay. Every other byte is kept: the
// result is the input with some whole lines taken out.
func (f *File) Without(profiles ...string) []byte {
	drop := map[string]bool{}
	for _, p := range profiles {
		drop[p] = true
	}
	return f.cut(func(s Section, k Key) bool { return drop[s.Name] && (k.Name == KeyID || k.Name == KeySecret) })
}

// cut returns the file without the key lines drop picks, and without the
// header of a section left with no key.
func (f *File) cut(drop func(Section, Key) bool) []byte {
	type span struct{ start, end int }
	var cuts []span
	for _, s := range f.Sections {
		removed := 0
		for _, k := range s.Keys {
			if drop(s, k) {
				cuts = append(cuts, span{k.start, k.next})
				removed++
			}
		}
		if removed > 0 && removed == len(s.Keys) {
			cuts = append(cuts, span{s.start, s.next})
		}
	}
	slices.SortFunc(cuts, func(a, b span) int { return a.start - b.start })
	out := make([]byte, 0, len(f.Data))
	last := 0
	for _, c := range cuts {
		out = append(out, f.Data[last:c.start]...)
		last = c.end
	}
	return append(out, f.Data[last:]...)
}

// Settings returns the keys of the profile's sections that are not
// credentials (region, output, …), in file order.
func (f *File) Settings(profile string) []Key {
	var out []Key
	for _, s := range f.Sections {
		if s.Name != profile {
			continue
		}
		for _, k := range s.Keys {
			switch k.Name {
			case KeyID, KeySecret, KeyToken, keySecurity:
			default:
				out = append(out, k)
			}
		}
	}
	return out
}

// Move is what leaves the file for one profile: its key, and the
// settings lines named in Settings (key → value) that still hold those
// values.
type Move struct {
	Profile                      string
	AccessKeyID, SecretAccessKey string
	Settings                     map[string]string
}

// Remove takes the moves out of the file at path as it is at that moment,
// under its lock (atomicfile.Edit): a change another program made since
// Read is kept, and a profile whose key is no longer the one given stays
// as it is. It returns the profiles whose key left the file. The file is
// replaced atomically and no copy of it is left anywhere.
func Remove(path string, moves []Move) (removed []string, err error) {
	_, err = atomicfile.Edit(path, func(data []byte) ([]byte, error) {
		if data == nil {
			return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
		}
		f, err := Parse(path, data)
		if err != nil {
			return nil, err
		}
		keys := map[string]Entry{}
		for _, e := range f.Entries() {
			keys[e.Profile] = e
		}
		take := map[string]Move{}
		removed = removed[:0]
		for _, m := range moves {
			if e := keys[m.Profile]; e.Problem == "" && e.AccessKeyID == m.AccessKeyID && e.SecretAccessKey == m.SecretAccessKey {
				take[m.Profile] = m
				removed = append(removed, m.Profile)
			}
		}
		return f.cut(func(s Section, k Key) bool {
			m, ok := take[s.Name]
			if !ok {
				return false
			}
			if k.Name == KeyID || k.Name == KeySecret {
				return true
			}
			v, ok := m.Settings[k.Name]
			return ok && !k.Continued && v == k.Value
		}), nil
	})
	return removed, err
}
