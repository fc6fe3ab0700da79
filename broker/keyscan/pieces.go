package keyscan

import (
	"bytes"
	"io"
	"math"
	"slices"
)

// carryLines is how many lines before a piece's end the next piece
// starts: a value on the last lines of a piece has the five lines after
// it in the next piece, and the five before it there too.
const carryLines = 2 * nearLines

// scanPieces scans a file larger than piece bytes (a Terraform state, a
// log) read from r, in encoding, piece bytes at a time. Each window is
// cut after its last line break and the next starts carryLines lines
// before that cut, so that each line is judged in the window where it has
// its five lines before and after, as in the whole file; memory stays
// under about three pieces. What a window cuts short: a run of wrapped
// base64 across a cut, and, in lines longer than half a piece (cut after
// a space or other separator), what is further away than that.
func scanPieces(path string, r io.Reader, encoding string, piece int) ([]Finding, error) {
	decode := func(b []byte, _ bool) []byte { return b }
	if encoding != "" {
		d := &utf16Pieces{bigEndian: encoding == "UTF-16BE"}
		decode = d.decode
	}
	raw := make([]byte, piece)
	var buf []byte      // text carried over from the last window, then the new text
	base := 0           // line breaks before buf
	done, split := 0, 0 // lines up to done are judged; split: a line cut mid-way, continued here
	seen := map[valueAt]bool{}
	var out []Finding
	for {
		n, err := io.ReadFull(r, raw)
		last := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !last {
			return nil, err
		}
		carried := len(buf)
		buf = append(buf, decode(raw[:n], last)...)
		cut, keep, lastLine, upTo := len(buf), 0, 0, math.MaxInt
		if !last {
			cut = cutAt(buf, carried)
			keep = tailStart(buf[:cut], carryLines, piece/2)
			lastLine = base + bytes.Count(buf[:cut], []byte("\n"))
			if buf[cut-1] != '\n' {
				lastLine++
			}
			// The next window starts on line next: this one judges the
			// lines before next+nearLines, which have their lines after here.
			next := base + bytes.Count(buf[:keep], []byte("\n")) + 1
			upTo = min(next+nearLines-1, lastLine)
		}
		for _, f := range Lines(path, buf[:cut]) {
			f.Line += base
			k := valueAt{f.Value, f.Line}
			if (f.Line > done || f.Line == split) && f.Line <= upTo && !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
		if last {
			break
		}
		done, split = max(done, upTo), 0
		if buf[cut-1] != '\n' && upTo == lastLine {
			split = upTo
		}
		base += bytes.Count(buf[:keep], []byte("\n"))
		buf = buf[:copy(buf, buf[keep:])]
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return a.Line - b.Line })
	return out, nil
}

// cutAt is where to end the window b: after its last line break past
// from, or else (one long line) after its last separator, or at its end.
func cutAt(b []byte, from int) int {
	if i := bytes.LastIndexByte(b[from:], '\n'); i >= 0 {
		return from + i + 1
	}
	for i := len(b) - 1; i >= from; i-- {
		if separator(b[i]) {
			return i + 1
		}
	}
	return len(b)
}

// separator: no value runs across c, and no escape or encoding holds it
// (\n, %2F, =).
func separator(c byte) bool {
	return classes[c] == 0 && c != '\\' && c != '%' && c != '='
}

// tailStart is where the last n lines of b start, or, when those are
// longer than limit bytes, the first line start or separator in b's last
// limit bytes.
func tailStart(b []byte, n, limit int) int {
	start := len(b)
	for ; n > 0 && start > 0; n-- {
		start = bytes.LastIndexByte(b[:start-1], '\n') + 1
	}
	if len(b)-start <= limit {
		return start
	}
	for i := len(b) - limit; i < len(b); i++ {
		if b[i-1] == '\n' || separator(b[i-1]) {
			return i
		}
	}
	return len(b)
}
