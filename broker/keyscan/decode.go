package keyscan

import (
	"bytes"
	"encoding/base64"
)

// doc is a file cut into lines, and the views of it the rules look at.
type doc struct {
	data  []byte
	ends  []int // ends[n-1]: the offset just past line n's text
	views []line
	runOf map[int]int // by view: the run of wrapped base64 it was decoded from, from 1
	runs  int         // runs of wrapped base64 decoded
}

// raw is line n (from 1) as in the file, without its line break.
func (d *doc) raw(n int) []byte {
	start := 0
	if n > 1 {
		start = d.ends[n-2] + 1
	}
	return bytes.TrimSuffix(d.data[start:d.ends[n-1]], []byte("\r"))
}

// split cuts data into lines. The views are the lines that may hold a key
// (a run of 20 base64 characters) and, after each line that holds an
// encoded form, the line decoded (several lines when what was decoded
// holds line breaks), numbered as the line it came from. Base64 wrapped
// over lines (base64, openssl base64, PEM-style) is decoded as one: see
// wrapped.
func split(data []byte) *doc {
	d := &doc{data: data, ends: make([]int, 0, bytes.Count(data, []byte("\n"))+1)}
	var w wrapped
	for start := 0; start < len(data); {
		end := len(data)
		if i := bytes.IndexByte(data[start:], '\n'); i >= 0 {
			end = start + i
		}
		d.ends = append(d.ends, end)
		num, raw := len(d.ends), bytes.TrimSuffix(data[start:end], []byte("\r"))
		start = end + 1
		long := hasRun(raw, 20)
		if len(w.lines) > 0 {
			if w.more(raw) {
				continue
			}
			d.addWrapped(&w)
		}
		if long && w.start(num, raw) {
			continue
		}
		d.addLine(num, raw, long)
	}
	if len(w.lines) > 0 {
		d.addWrapped(&w)
	}
	return d
}

// addLine adds the views of line num: as it is, and decoded.
func (d *doc) addLine(num int, raw []byte, long bool) {
	if long {
		d.views = append(d.views, line{num: num, text: raw})
	}
	if !long && bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '\\') < 0 {
		return // nothing encoded that could hold a key
	}
	if dec, how := decodeLine(raw); dec != nil {
		for _, t := range bytes.Split(dec, []byte("\n")) {
			d.views = append(d.views, line{num: num, text: bytes.TrimSuffix(t, []byte("\r")), encoded: how})
		}
	}
}

// maxWrapped bounds the base64 decoded as one; a longer run is decoded in
// parts of this size (a value across two parts is missed).
const maxWrapped = 1 << 20

// wrapped is a run of lines of base64 and nothing else (spaces around
// aside), all as long as the first but the last, which may be shorter
// and end in '=' padding: base64 wrapped at 76 or 64 columns. Each line
// decoded alone is cut mid-value, so the run is decoded as one.
type wrapped struct {
	first int      // line number of the first line
	width int      // length of each line but the last
	lines [][]byte // as in the file
	size  int      // base64 characters in lines
}

// start begins a run at line num, if it can begin one.
func (w *wrapped) start(num int, raw []byte) bool {
	t := trimBlank(raw)
	if len(t) < 20 || !pureBase64(t, false) {
		return false
	}
	*w = wrapped{first: num, width: len(t), lines: append(w.lines[:0], raw), size: len(t)}
	return true
}

// more adds the next line to the run, if it continues it: the run is
// not closed yet (by a shorter line or padding), and the line is base64
// no longer than the others.
func (w *wrapped) more(raw []byte) bool {
	last := trimBlank(w.lines[len(w.lines)-1])
	t := trimBlank(raw)
	if len(last) != w.width || last[len(last)-1] == '=' || len(t) == 0 || len(t) > w.width ||
		w.size+len(t) > maxWrapped || !pureBase64(t, true) {
		return false
	}
	w.lines = append(w.lines, raw)
	w.size += len(t)
	return true
}

// trimBlank is b without the spaces and tabs around it.
func trimBlank(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// pureBase64: b is base64 or base64url characters only, and, if pad,
// up to two '=' at its end.
func pureBase64(b []byte, pad bool) bool {
	if pad {
		for k := 0; k < 2 && len(b) > 1 && b[len(b)-1] == '='; k++ {
			b = b[:len(b)-1]
		}
	}
	for _, c := range b {
		if classes[c]&base64Class == 0 {
			return false
		}
	}
	return true
}

// addWrapped adds the views of the run w, and empties it: its lines as
// they are and, when the run decodes to text, that text, each decoded
// line numbered as the line its start came from. A run that does not
// decode (a certificate, random data) is added line by line.
func (d *doc) addWrapped(w *wrapped) {
	defer func() { w.lines = w.lines[:0] }()
	if head := trimBlank(w.lines[0]); len(w.lines) >= 2 && printable(head[:4]) != nil {
		b64 := make([]byte, 0, w.size)
		for _, l := range w.lines {
			b64 = append(b64, trimBlank(l)...)
		}
		if dec := printable(bytes.TrimRight(b64, "=")); dec != nil {
			for k, l := range w.lines {
				if hasRun(l, 20) {
					d.views = append(d.views, line{num: w.first + k, text: l})
				}
			}
			d.runs++
			if d.runOf == nil {
				d.runOf = map[int]int{}
			}
			off := 0
			for _, t := range bytes.Split(dec, []byte("\n")) {
				num := w.first + min(off*4/3/w.width, len(w.lines)-1)
				d.runOf[len(d.views)] = d.runs
				d.views = append(d.views, line{num: num, text: bytes.TrimSuffix(t, []byte("\r")), encoded: "base64-encoded"})
				off += len(t) + 1
			}
			return
		}
	}
	for k, l := range w.lines {
		d.addLine(w.first+k, l, hasRun(l, 20))
	}
}

// decodeLine is b with its encoded forms decoded, and what they were; nil
// when b holds none.
func decodeLine(b []byte) ([]byte, string) {
	how := ""
	if bytes.IndexByte(b, '%') >= 0 {
		if d := urlDecode(b); d != nil {
			b, how = d, "URL-encoded"
		}
	}
	if bytes.Contains(b, []byte(`\/`)) {
		b = bytes.ReplaceAll(b, []byte(`\/`), []byte("/"))
		if how == "" {
			how = "escaped"
		}
	}
	if d := base64Decode(b); d != nil {
		b, how = d, "base64-encoded"
	}
	if how == "" {
		return nil, ""
	}
	return b, how
}

// urlDecode turns %2F, %2B and %3D (either case) into / + =, the
// characters of a secret that a URL escapes; nil when there are none.
func urlDecode(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) {
			var c byte
			switch string(bytes.ToUpper(b[i+1 : i+3])) {
			case "2F":
				c = '/'
			case "2B":
				c = '+'
			case "3D":
				c = '='
			}
			if c != 0 {
				if out == nil {
					out = append(make([]byte, 0, len(b)), b[:i]...)
				}
				out = append(out, c)
				i += 2
				continue
			}
		}
		if out != nil {
			out = append(out, b[i])
		}
	}
	return out
}

// base64Decode replaces each run of 24 or more base64 or base64url
// characters in b that decodes to printable text by that text; nil when
// there is none.
func base64Decode(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); i++ {
		if !isBase64Char(b[i]) {
			continue
		}
		j := i
		for j < len(b) && isBase64Char(b[j]) {
			j++
		}
		end := j
		for end < len(b) && end < j+2 && b[end] == '=' {
			end++
		}
		if j-i >= 24 {
			if d := printable(b[i:j]); d != nil {
				out = append(append(out, b[last:i]...), d...)
				last = end
			}
		}
		i = end - 1
	}
	if out == nil {
		return nil
	}
	return append(out, b[last:]...)
}

// printable is run decoded, if it decodes to printable text (a few
// control characters aside), else nil.
func printable(run []byte) []byte {
	enc := base64.RawStdEncoding
	if bytes.ContainsAny(run, "-_") {
		if bytes.ContainsAny(run, "+/") {
			return nil
		}
		enc = base64.RawURLEncoding
	}
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	// Most runs are names or random data: the first 3 bytes tell.
	var head [3]byte
	if _, err := enc.Decode(head[:], run[:4]); err != nil || !printableBytes(head[:]) {
		return nil
	}
	d := make([]byte, enc.DecodedLen(len(run)))
	n, err := enc.Decode(d, run)
	if err != nil || !printableBytes(d[:n]) {
		return nil
	}
	return d[:n]
}

func printableBytes(b []byte) bool {
	for _, c := range b {
		if (c < ' ' || c > '~') && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
