package keyscan

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// sniff says how data, the start of a file, is to be read: encoding is
// "" (UTF-8) or "UTF-16LE" or "UTF-16BE", bom the length of a byte order
// mark to drop; ok is false for binary data. UTF-16 is known by its byte
// order mark or, without one (PowerShell 5 and Notepad write it so), by
// looksUTF16; anything else with a NUL byte in its first 8 KiB is binary.
func sniff(data []byte) (encoding string, bom int, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return "", 3, true
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return "UTF-16LE", 2, true
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return "UTF-16BE", 2, true
	}
	head := data[:min(len(data), 8<<10)]
	if bytes.IndexByte(head, 0) < 0 {
		return "", 0, true
	}
	if be, ok := looksUTF16(head); ok {
		if be {
			return "UTF-16BE", 0, true
		}
		return "UTF-16LE", 0, true
	}
	return "", 0, false
}

// text is data as UTF-8 text (see sniff), encoding what was decoded; ok
// is false for binary data.
func text(data []byte) (out []byte, encoding string, ok bool) {
	encoding, bom, ok := sniff(data)
	if !ok {
		return nil, "", false
	}
	return decodeText(data[bom:], encoding), encoding, true
}

// decodeText is data, in encoding (from sniff), as UTF-8.
func decodeText(data []byte, encoding string) []byte {
	switch encoding {
	case "UTF-16LE":
		return fromUTF16(data, false)
	case "UTF-16BE":
		return fromUTF16(data, true)
	}
	return data
}

// looksUTF16 tells UTF-16 text without a byte order mark from binary data
// by its 16-bit units, read both ways: text has no NUL and no control
// character but tab, line breaks and form feed, and most of what a
// scanner looks for is ASCII, a unit with one NUL byte: at least a
// quarter of them, read the right way, and more than read the other way.
// A file with a few characters beyond Latin-1 (€, ключ, 鍵) still passes.
func looksUTF16(head []byte) (bigEndian, ok bool) {
	head = head[:len(head)&^1]
	if len(head) < 8 {
		return false, false
	}
	valid := [2]bool{true, true} // little-endian, big-endian
	var ascii [2]int
	for i := 0; i < len(head) && (valid[0] || valid[1]); i += 2 {
		for e, u := range [2]uint16{uint16(head[i+1])<<8 | uint16(head[i]), uint16(head[i])<<8 | uint16(head[i+1])} {
			switch {
			case u < 0x100 && textByte(byte(u)):
				ascii[e]++
			case u < 0x100: // NUL or a control character
				valid[e] = false
			}
		}
	}
	units := len(head) / 2
	switch {
	case valid[0] && 4*ascii[0] >= units && ascii[0] > ascii[1]:
		return false, true
	case valid[1] && 4*ascii[1] >= units && ascii[1] > ascii[0]:
		return true, true
	}
	return false, false
}

// textByte: c is a character of text in Latin-1, not a control character
// (tab, line feed, form feed and carriage return aside).
func textByte(c byte) bool {
	return c >= ' ' && c <= '~' || c >= 0xA0 || c == '\t' || c == '\n' || c == '\f' || c == '\r'
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

// utf16Pieces decodes UTF-16 read in pieces: a piece's odd last byte,
// or a high surrogate waiting for its pair, goes with the next one.
type utf16Pieces struct {
	bigEndian bool
	rest      []byte
}

func (d *utf16Pieces) decode(b []byte, last bool) []byte {
	b = append(d.rest, b...)
	n := len(b) &^ 1
	if !last && n >= 2 {
		hi := b[n-1] // the high byte of the last unit, little-endian
		if d.bigEndian {
			hi = b[n-2]
		}
		if hi&0xFC == 0xD8 {
			n -= 2
		}
	}
	out := fromUTF16(b[:n], d.bigEndian)
	d.rest = append([]byte(nil), b[n:]...)
	return out
}
