package awsconfig

import (
	"errors"
	"runtime"
	"strings"
)

// windowsArgs selects how credential_process is split into words: botocore
// uses shlex.split (POSIX rules) except on Windows, where it follows the C
// runtime's rules (double quotes, backslashes literal unless before a quote).
var windowsArgs = runtime.GOOS == "windows"

// quoteArg quotes s as one word of a credential_process command line. A '#'
// or ';' is written outside quotes and escaped, so that no blank ever
// precedes it: the config parser would take ` #` for a comment.
func quoteArg(s string, windows bool) string {
	if windows {
		return quoteWindows(s)
	}
	if s == "" {
		return "''"
	}
	if strings.Trim(s, posixSafe) == "" {
		return s
	}
	var b strings.Builder
	quoted := false
	for _, r := range s {
		if r == '\'' || r == '#' || r == ';' {
			if quoted {
				b.WriteByte('\'')
				quoted = false
			}
			b.WriteByte('\\')
		} else if !quoted {
			b.WriteByte('\'')
			quoted = true
		}
		b.WriteRune(r)
	}
	if quoted {
		b.WriteByte('\'')
	}
	return b.String()
}

// posixSafe is what Python's shlex.quote leaves unquoted.
const posixSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-"

func quoteWindows(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"#;") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, r := range s {
		switch r {
		case '\\':
			slashes++
			continue
		case '"':
			// 2n+1 backslashes and a quote are n backslashes and a quote.
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
		case '#', ';':
			b.WriteString(strings.Repeat(`\`, 2*slashes))
			b.WriteByte('"')
			b.WriteRune(r)
			r = '"'
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
		}
		slashes = 0
		b.WriteRune(r)
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}

var errQuote = errors.New("unterminated quote or escape")

// splitArgs splits a credential_process command line as botocore does.
func splitArgs(s string, windows bool) ([]string, error) {
	if windows {
		return splitWindows(s)
	}
	// shlex.split in POSIX mode, without comments.
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
			continue
		case c == '\\':
			if i++; i == len(s) {
				return nil, errQuote
			}
			w.WriteByte(s[i])
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errQuote
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			for i++; ; i++ {
				if i == len(s) {
					return nil, errQuote
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				w.WriteByte(s[i])
			}
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// splitWindows follows botocore's _windows_shell_split.
func splitWindows(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted, slashes := false, false, 0
	flush := func(n int) {
		w.WriteString(strings.Repeat(`\`, n))
		slashes = 0
	}
	for _, r := range s {
		switch {
		case r == '\\':
			slashes++
			inWord = true
		case r == '"':
			odd := slashes%2 == 1
			flush(slashes / 2)
			if odd {
				w.WriteByte('"')
			} else {
				quoted = !quoted
			}
			slashes = 0
			inWord = true
		case (r == ' ' || r == '\t') && !quoted:
			flush(slashes)
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			flush(slashes)
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, errQuote
	}
	flush(slashes)
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// isBrokerLine reports whether a credential_process value runs broker
// export: its first word is brokerPath or a file named broker, and its
// second word is export.
func isBrokerLine(value, brokerPath string, windows bool) bool {
	words, err := splitArgs(value, windows)
	if err != nil || len(words) < 2 {
		return false
	}
	base := words[0][strings.LastIndexAny(words[0], `/\`)+1:]
	if IsClient(base) {
		return true
	}
	if words[1] != "export" {
		return false
	}
	if brokerPath != "" && words[0] == brokerPath {
		return true
	}
	return base == "broker" || strings.EqualFold(base, "broker.exe")
}

// ClientName is the small credential_process client installed beside
// broker: it asks the agent, and runs `broker export` when the agent cannot
// answer.
const ClientName = "broker-credential-process"

// IsClient reports whether a program's file name is the client's.
func IsClient(base string) bool {
	return base == ClientName || strings.EqualFold(base, ClientName+".exe")
}
