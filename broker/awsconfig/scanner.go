package awsconfig

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"
)

type lineKind uint8

const (
	lineBlank  lineKind = iota // empty, only blanks, or a comment
	lineCont                   // indented line under a key with an empty value
	lineHeader                 // starts with '['
	lineKey                    // key = value
	lineBad                    // none of the above
)

// lineState is what classifying a line needs to know about the lines before
// it: botocore nests `s3 =\n  max_concurrent_requests = 10` under s3.
type lineState struct {
	inCont   bool // the last non-blank line was a continuation
	keyEmpty bool // the last non-blank line was a key with an empty value
}

// classify returns the kind of line (without its line ending), the index
// of its first non-blank byte, and for a lineKey the index of its
// delimiter ('=' or ':'). Load
// and Profile both use it, so they agree on what each line is.
func (st *lineState) classify(line []byte) (kind lineKind, ind, eq int) {
	i := 0
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	if i == len(line) || line[i] == '#' || line[i] == ';' {
		return lineBlank, i, -1
	}
	if i > 0 && (st.inCont || st.keyEmpty) {
		st.inCont = true
		return lineCont, i, -1
	}
	st.inCont, st.keyEmpty = false, false
	if line[i] == '[' {
		return lineHeader, i, -1
	}
	// botocore's configparser and aws-sdk-go-v2 take '=' or ':', whichever
	// comes first, as the delimiter: `region: eu-west-1` is a key too.
	e := bytes.IndexAny(line[i:], "=:")
	if e < 0 {
		return lineBad, i, -1
	}
	eq = i + e
	// Is the value empty? Most often the first byte after "= " says no.
	k := eq + 1
	for k < len(line) && isSpace(line[k]) {
		k++
	}
	st.keyEmpty = k == len(line) || (line[k] == '#' || line[k] == ';') && k > eq+1
	return lineKey, i, eq
}

// nextLine returns the end of the line starting at off in data (before
// "\r\n" or "\n") and the start of the next line.
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

// indexer checks every line of a file and records its profile sections.
// It reads the file in chunks, so a large file is never in memory whole.
type indexer struct {
	path      string
	size      int // of the file, to size secs
	num       int // lines checked so far
	st        lineState
	inSection bool
	secs      []section
	keepNames bool
	names     []string // with keepNames, the name of each section in secs
}

// scan checks the complete lines of chunk, which is the file from offset
// base on, or all of it if final. It returns how many bytes it consumed.
func (ix *indexer) scan(chunk []byte, base int, final bool) (int, error) {
	if !final {
		chunk = chunk[:bytes.LastIndexByte(chunk, '\n')+1]
	}
	if base == 0 && bytes.HasPrefix(chunk, []byte("\ufeff")) {
		// botocore refuses such a file too; say why rather than "not a header".
		return 0, &SyntaxError{ix.path, 1, "file starts with a UTF-8 byte order mark, which the AWS CLI cannot read"}
	}
	// Binary data is checked for the whole chunk at once, but reported in
	// line order like any other error, whatever the chunks are.
	bad, msg := bytes.IndexByte(chunk, 0), "binary data (NUL byte)"
	if !utf8.Valid(chunk) {
		if i := invalidUTF8(chunk); bad < 0 || i < bad {
			bad, msg = i, "binary data (invalid UTF-8)"
		}
	}
	if bad >= 0 {
		if err := ix.lines(chunk[:bytes.LastIndexByte(chunk[:bad], '\n')+1], base); err != nil {
			return 0, err
		}
		return 0, &SyntaxError{ix.path, ix.num + 1, msg}
	}
	if err := ix.lines(chunk, base); err != nil {
		return 0, err
	}
	if base == 0 && !final {
		ix.reserve(len(chunk))
	}
	return len(chunk), nil
}

// lines checks lines, complete lines of the file from offset base on.
func (ix *indexer) lines(chunk []byte, base int) error {
	for off := 0; off < len(chunk); {
		ix.num++
		rest := chunk[off:]
		if rest[0] == '\n' { // a blank line changes nothing
			off++
			continue
		}
		// Fast path for most lines: key = value, with a value, in a section.
		if c := rest[0]; ix.inSection && c > ' ' && c != '[' && c != '#' && c != ';' && c != '=' && c != ':' {
			// Keys are short: a loop beats IndexByte's call.
			e := 1
			for e < len(rest) && rest[e] != '=' && rest[e] != ':' && rest[e] != '\n' {
				e++
			}
			k := e + 1
			for k < len(rest) && isBlank(rest[k]) {
				k++
			}
			if e < len(rest) && rest[e] == '=' && k < len(rest) && rest[k] > ' ' && (k == e+1 || rest[k] != '#' && rest[k] != ';') {
				if nl := bytes.IndexByte(rest[k:], '\n'); nl >= 0 {
					off += k + nl + 1
				} else {
					off = len(chunk)
				}
				ix.st = lineState{}
				continue
			}
		}
		end, next := nextLine(chunk, off)
		line := chunk[off:end]
		switch kind, ind, eq := ix.st.classify(line); kind {
		case lineBlank, lineCont:
		case lineHeader:
			ns, ne, isProfile, msg := parseHeader(line, ind)
			if msg != "" {
				return &SyntaxError{ix.path, ix.num, msg}
			}
			ix.inSection = true
			if isProfile {
				ix.secs = append(ix.secs, section{hash: nameHash(line[ns:ne]), header: uint32(base + off)})
				if ix.keepNames {
					ix.names = append(ix.names, string(line[ns:ne]))
				}
			}
		case lineKey:
			if eq == ind {
				return &SyntaxError{ix.path, ix.num, "key = value line with no key before '='"}
			}
			if !ix.inSection {
				key := trimSpace(line[ind:eq])
				return &SyntaxError{ix.path, ix.num, fmt.Sprintf("key %q before any section header", key)}
			}
		default:
			return &SyntaxError{ix.path, ix.num, "line is not a [section] header, a comment, or key = value"}
		}
		off = next
	}
	return nil
}

// reserve sizes secs for the whole file from what the first chunk of it
// held, so that it is allocated once: on the warm path fresh memory is
// costly (page faults), and growing by doubling touches twice as much.
func (ix *indexer) reserve(scanned int) {
	if n := len(ix.secs); scanned > 0 {
		ix.secs = slices.Grow(ix.secs, n*ix.size/scanned+n/8+16-n)
	}
}

// parseHeader parses the header line whose '[' is at ind, as botocore
// reads it: Python's configparser takes the section name from the first
// '[' to the last ']' of the line (what follows is ignored), and botocore
// makes [default] and [profile NAME] profiles, splitting the name off with
// shlex. For a profile section it returns the bounds of its name. botocore
// ignores any other section, and so does broker.
//
// A header that looks like a profile's but that botocore reads as another
// profile or as none is an error rather than a guess: a ']' or '[' in the
// name ([profile a]], whose name botocore reads as "a]"), a blank after
// '[' or around "default" ([ profile a ], which botocore skips), a blank,
// quote or backslash inside the name ([profile a b], [profile 'a']).
func parseHeader(line []byte, ind int) (ns, ne int, isProfile bool, msg string) {
	closing := bytes.LastIndexByte(line, ']')
	if closing < ind {
		return 0, 0, false, "section header has no closing ']'"
	}
	s, e := trimSpan(line, ind+1, closing)
	inner := line[s:e]
	isDefault := string(inner) == "default"
	named := bytes.HasPrefix(inner, []byte("profile")) && (len(inner) == 7 || isSpace(inner[7]))
	switch {
	case len(inner) == 0:
		return 0, 0, false, "empty section name"
	case !isDefault && !named:
		return 0, 0, false, ""
	case s > ind+1:
		return 0, 0, false, "blank after '[' in a profile header: the AWS CLI does not read it as a profile"
	case isDefault && e < closing:
		return 0, 0, false, "blank before ']' in [default]: the AWS CLI does not read it as the default profile"
	case isDefault:
		return s, e, true, ""
	}
	ns, ne = trimSpan(line, s+7, e)
	name := line[ns:ne]
	switch {
	case ns == ne:
		return 0, 0, false, "empty profile name in [profile] header"
	case bytes.ContainsAny(line[ind:closing], "\v\f"):
		return 0, 0, false, "control character in a profile header"
	case bytes.ContainsAny(name, "[]"):
		return 0, 0, false, "'[' or ']' in a profile name: the AWS CLI reads the header as another profile"
	case bytes.ContainsAny(name, " \t\r"):
		return 0, 0, false, "blank inside a profile name: the AWS CLI does not read it as a profile"
	case bytes.ContainsAny(name, "'\"\\"):
		return 0, 0, false, "quote or backslash in a profile name: the AWS CLI reads it another way than broker"
	}
	return ns, ne, true, ""
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

// trimSpan trims spaces from b[s:e] and returns the new bounds.
func trimSpan(b []byte, s, e int) (int, int) {
	for s < e && isSpace(b[s]) {
		s++
	}
	for e > s && isSpace(b[e-1]) {
		e--
	}
	return s, e
}

func trimSpace(b []byte) []byte {
	s, e := trimSpan(b, 0, len(b))
	return b[s:e]
}

// valueSpan returns the bounds of the value in line, whose '=' is at eq: the
// text after '=', trimmed, up to a '#' or ';' that follows a blank.
func valueSpan(line []byte, eq int) (int, int) {
	e := len(line)
	for k := eq + 1; k < len(line); k++ {
		if (line[k] == '#' || line[k] == ';') && isSpace(line[k-1]) {
			e = k
			break
		}
	}
	return trimSpan(line, eq+1, e)
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}
