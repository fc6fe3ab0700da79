package keyscan

import (
	"bytes"
	"strings"
)

// hintBefore is the hint before offset at in view i: a hint word
// anywhere before it, or the name right before the value.
func (sc *scanner) hintBefore(i, at int) string {
	text := sc.d.views[i].text
	idx, ok := sc.words[i]
	if !ok {
		idx = make([]int, len(hintWords))
		for k, w := range hintWords {
			idx[k] = indexFold(text, w)
		}
		sc.words[i] = idx
	}
	for k, w := range hintWords {
		if idx[k] >= 0 && idx[k]+len(w) <= at {
			return `"` + w + `"`
		}
	}
	return nameHint(lastName(text[:at]), false)
}

// Hints: words that name a secret wherever they come before it on its
// line, and names that do when they are the name the value is given to.
var hintWords = []string{"secret", "password", "passwd", "credential"}

// hintIn is a hint anywhere in b, a line above a candidate.
func hintIn(b []byte) string {
	if h := hintWord(b); h != "" {
		return h
	}
	for _, name := range names(b) {
		if h := nameHint(name, true); h != "" {
			return h
		}
	}
	return ""
}

func hintWord(b []byte) string {
	if len(b) < 6 {
		return ""
	}
	for _, w := range hintWords {
		if indexFold(b, w) >= 0 {
			return `"` + w + `"`
		}
	}
	return ""
}

// nameHint: name holds "sk" or "pwd" as a whole word (AWS_SK, aws.sk,
// sk), or "aws" (strict: and "key" too, as in aws_key; a line above a
// value names many things).
func nameHint(name []byte, strict bool) string {
	if len(name) < 2 {
		return ""
	}
	lower := strings.ToLower(string(name))
	if strings.Contains(lower, "aws") && (!strict || strings.Contains(lower, "key")) {
		return "a name with \"aws\""
	}
	for _, part := range strings.FieldsFunc(lower, func(r rune) bool { return r < 'a' || r > 'z' }) {
		if part == "sk" || part == "pwd" {
			return `"` + part + `"`
		}
	}
	return ""
}

// lastName is the name a value after b is given to: the last name in b,
// with only quotes, spaces and an assignment (= : => , ( <tag>) after it.
func lastName(b []byte) []byte {
	end := len(b)
	for end > 0 && bytes.IndexByte([]byte(" \t'\"`=:>,({[<"), b[end-1]) >= 0 {
		end--
	}
	start := end
	for start > 0 && isNameChar(b[start-1]) {
		start--
	}
	return b[start:end]
}

// names are the names in b.
func names(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); {
		if !isNameChar(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isNameChar(b[j]) {
			j++
		}
		out = append(out, b[i:j])
		i = j
	}
	return out
}

// indexFold is the index of the first ASCII-case-insensitive match of word
// (lower case) in b, or -1.
func indexFold(b []byte, word string) int {
	for i := 0; i+len(word) <= len(b); i++ {
		j := 0
		for j < len(word) && b[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return i
		}
	}
	return -1
}
