package awsconfig

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// reader reads one consistent version of the config file.
type reader struct {
	f  *File
	fh *os.File // nil when f.data holds the file, or f is an empty File
}

// open returns a reader of the file f was made from. If the file changed
// since Load, it parses what is there now: callers then answer for the
// current file rather than mix two versions.
func (f *File) open() (reader, error) {
	if f.info == nil {
		return reader{f: f}, nil
	}
	fh, err := os.Open(f.path)
	if err == nil {
		fi, err := fh.Stat()
		if err == nil && os.SameFile(fi, f.info) && fi.Size() == f.info.Size() && fi.ModTime().Equal(f.info.ModTime()) {
			return reader{f: f, fh: fh}, nil
		}
		fh.Close()
	}
	data, info, err := readFile(f.path)
	if err != nil {
		return reader{}, err
	}
	if info == nil {
		return reader{f: &File{path: f.path}}, nil
	}
	g, err := Parse(f.path, data)
	return reader{f: g}, err
}

func (r reader) Close() {
	if r.fh != nil {
		r.fh.Close()
	}
}

// headers returns the offsets of the named profile's sections.
func (r reader) headers(name string) ([]int, error) {
	var offs []int
	h := nameHash(name)
	for _, s := range r.f.secs {
		if s.hash != h {
			continue
		}
		b, err := r.section(int(s.header))
		if err != nil {
			return nil, err
		}
		if b.name == name {
			offs = append(offs, int(s.header))
		}
	}
	return offs, nil
}

// names returns the names of all profile sections, duplicates included.
func (r reader) names() ([]string, error) {
	ix := &indexer{path: r.f.path, keepNames: true}
	if r.fh == nil {
		_, err := ix.scan(r.f.data, 0, true)
		return ix.names, err
	}
	ix.size = int(r.f.info.Size())
	err := ix.stream(io.NewSectionReader(r.fh, 0, r.f.info.Size()))
	return ix.names, err
}

// section parses the section whose header is at off.
func (r reader) section(off int) (body, error) {
	if r.fh == nil {
		return parseSection(r.f.data[off:], off, true), nil
	}
	buf := make([]byte, 4096)
	for {
		n, err := r.fh.ReadAt(buf, int64(off))
		if err != nil && err != io.EOF {
			return body{}, fmt.Errorf("reading config: %w", err)
		}
		b := parseSection(buf[:n], off, n < len(buf))
		if b.complete {
			return b, nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// lineOf returns the 1-based number of the line at off.
func (r reader) lineOf(off int) (int, error) {
	if r.fh == nil {
		return bytes.Count(r.f.data[:off], []byte{'\n'}) + 1, nil
	}
	buf := make([]byte, chunkSize)
	lines := 1
	for pos := 0; pos < off; {
		n, err := r.fh.ReadAt(buf[:min(len(buf), off-pos)], int64(pos))
		lines += bytes.Count(buf[:n], []byte{'\n'})
		pos += n
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reading config: %w", err)
		}
	}
	return lines, nil
}

// layer returns the keys of the named profile's own section, or nil if it
// has none. A profile with two sections is a *SyntaxError naming the lines
// of both: botocore refuses such a file (configparser's
// DuplicateSectionError), and merging them would read another profile than
// the AWS CLI, or edit the wrong section.
func (r reader) layer(name string) (map[string]keyLine, error) {
	var l map[string]keyLine
	first := -1
	h := nameHash(name)
	for _, s := range r.f.secs {
		if s.hash != h {
			continue
		}
		b, err := r.section(int(s.header))
		if err != nil {
			return nil, err
		}
		if b.name != name {
			continue
		}
		if first >= 0 {
			return nil, r.duplicate(name, first, int(s.header))
		}
		first = int(s.header)
		if l == nil {
			l = make(map[string]keyLine)
		}
		for _, kl := range b.keys {
			kl.header = int(s.header)
			l[kl.key] = kl
		}
	}
	return l, nil
}

// duplicate is the error for profile name's second section, at off; its
// first is at first.
func (r reader) duplicate(name string, first, off int) error {
	l1, err := r.lineOf(first)
	if err != nil {
		return err
	}
	l2, err := r.lineOf(off)
	if err != nil {
		return err
	}
	return &SyntaxError{r.f.path, l2, fmt.Sprintf("a second section for profile %q (the first is at %s:%d): the AWS CLI refuses a file with a duplicate section; merge the two", name, r.f.path, l1)}
}

// keyLine is one key = value line of a section, located in the file.
type keyLine struct {
	key    string // lowercased
	value  string
	line   int // counted from the header line, at offset header
	header int
	// data[start:next] is the line with its ending and any continuation
	// lines; removing it leaves the file well formed.
	start, next      int
	own              int // the end of the key's own line, with its ending
	lineEnd          int // the end of its text, before the line ending
	eq               int // the offset of '='
	keyStart, keyEnd int
	valStart, valEnd int
}

// body is the parsed content of one section.
type body struct {
	name string // the profile's name
	keys []keyLine
	// contentEnd is the offset after the last key or continuation line (with
	// its line ending), or after the header if there is none: where a new
	// key goes without landing after the comments that lead the next section.
	contentEnd int
	complete   bool // the next header, or the end of the file, was reached
}

// parseSection parses the profile section whose header line starts data,
// which holds the file from offset base on. Without eof only complete lines
// count, and if no header follows them the body is not complete.
func parseSection(data []byte, base int, eof bool) body {
	end, off := nextLine(data, 0)
	if off == len(data) && !eof && (off == 0 || data[off-1] != '\n') {
		return body{}
	}
	b := body{contentEnd: base + off}
	header := data[:end]
	if ns, ne, ok, _ := parseHeader(header, bytes.IndexByte(header, '[')); ok {
		b.name = string(header[ns:ne])
	}
	var st lineState
	for num := 1; off < len(data); num++ {
		end, next := nextLine(data, off)
		if next == len(data) && !eof && data[next-1] != '\n' {
			return b
		}
		line := data[off:end]
		switch kind, ind, eq := st.classify(line); kind {
		case lineHeader:
			b.complete = true
			return b
		case lineKey:
			ks, ke := trimSpan(line, ind, eq)
			vs, ve := valueSpan(line, eq)
			b.keys = append(b.keys, keyLine{
				key:   strings.ToLower(string(line[ks:ke])),
				value: string(line[vs:ve]),
				line:  num,
				start: base + off, next: base + next, own: base + next,
				lineEnd: base + end, eq: base + off + eq,
				keyStart: base + off + ks, keyEnd: base + off + ke,
				valStart: base + off + vs, valEnd: base + off + ve,
			})
			b.contentEnd = base + next
		case lineCont:
			// Nested keys (s3 =\n  addressing_style = path) belong to the
			// key above; no profile field reads them.
			b.keys[len(b.keys)-1].next = base + next
			b.contentEnd = base + next
		}
		off = next
	}
	b.complete = eof
	return b
}
