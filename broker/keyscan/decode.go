package keyscan

import (
	"bytes"
	"encoding/base64"
	"unicode/utf16"
	"unicode/utf8"
)

// doc is a file cut into lines, and the views of it the rules look at.
type doc struct {
	data  []byte
	ends  []int // ends[n-1]: the offset just past line n's text
	views []line
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
// holds line breaks), numbered as the line it came from.
func split(data []byte) *doc {
	d := &doc{data: data, ends: make([]int, 0, bytes.Count(data, []byte("\n"))+1)}
	for start := 0; start < len(data); {
		end := len(data)
		if i := bytes.IndexByte(data[start:], '\n'); i >= 0 {
			end = start + i
		}
		d.ends = append(d.ends, end)
		num, raw := len(d.ends), bytes.TrimSuffix(data[start:end], []byte("\r"))
		start = end + 1
		long := hasRun(raw, 20)
		if long {
			d.views = append(d.views, line{num: num, text: raw})
		}
		if !long && bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '\\') < 0 {
			continue // nothing encoded that could hold a key
		}
		if dec, how := decodeLine(raw); dec != nil {
			for _, t := range bytes.Split(dec, []byte("\n")) {
				d.views = append(d.views, line{num: num, text: bytes.TrimSuffix(t, []byte("\r")), encoded: how})
			}
		}
	}
	return d
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

// text is data as UTF-8 text: UTF-16 (with a byte order mark, or without
// one when every other byte of its start is NUL, as PowerShell 5 and
// Notepad write it) decoded, a UTF-8 byte order mark dropped. encoding
// names what was decoded; ok is false for binary data (a NUL byte in the
// first 8 KiB otherwise).
func text(data []byte) (out []byte, encoding string, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return fromUTF16(data[2:], false), "UTF-16LE", true
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return fromUTF16(data[2:], true), "UTF-16BE", true
	}
	head := data[:min(len(data), 8<<10)]
	if bytes.IndexByte(head, 0) < 0 {
		return data, "", true
	}
	if be, ok := looksUTF16(head); ok {
		name := "UTF-16LE"
		if be {
			name = "UTF-16BE"
		}
		return fromUTF16(data, be), name, true
	}
	return nil, "", false
}

// looksUTF16: ASCII text in UTF-16 has a NUL in every other byte.
func looksUTF16(head []byte) (bigEndian, ok bool) {
	head = head[:min(len(head), 512)&^1]
	if len(head) < 8 {
		return false, false
	}
	var zeros [2]int
	for i, c := range head {
		if c == 0 {
			zeros[i%2]++
		}
	}
	half := len(head) / 2
	switch {
	case zeros[1] == half && zeros[0] == 0:
		return false, true
	case zeros[0] == half && zeros[1] == 0:
		return true, true
	}
	return false, false
}

func fromUTF16(b []byte, bigEndian bool) []byte {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out
}
