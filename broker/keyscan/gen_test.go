package keyscan

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// Test keys are made at run time, from a fixed seed, so that no literal
// in the repository looks like a real key (a leak check greps for them)
// and every run sees the same ones.

const (
	base32Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

type gen struct {
	r *rand.Rand
}

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, 12))} }

func (g *gen) from(chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.r.IntN(len(chars))]
	}
	return string(b)
}

// id is a key ID as AWS issues them: prefix, then base32 to 20 characters.
func (g *gen) id(prefix string) string { return prefix + g.from(base32Chars, 20-len(prefix)) }

// secret is a secret access key as AWS issues them: 40 random characters
// of base64's alphabet.
func (g *gen) secret() string { return g.from(secretChars, 40) }

// secretWith is a secret holding c (a character a URL or JSON escapes).
func (g *gen) secretWith(c byte) string {
	s := []byte(g.secret())
	s[5+g.r.IntN(30)] = c
	return string(s)
}

// expand fills a corpus template: each {{name}} is a fresh value. It
// returns the text and the values a scanner should find in it.
func (g *gen) expand(t *testing.T, tmpl string) (string, []string) {
	t.Helper()
	var want []string
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), want
		}
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			t.Fatalf("unclosed {{ in %q", tmpl)
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+2 : i+j]
		tmpl = tmpl[i+j+2:]
		v, found, err := g.value(name)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(v)
		want = append(want, found...)
	}
}

// value is the text for {{name}} and what of it is to be found.
func (g *gen) value(name string) (string, []string, error) {
	switch name {
	case "id":
		v := g.id("AKIA")
		return v, []string{v}, nil
	case "sid":
		v := g.id("ASIA")
		return v, []string{v}, nil
	case "bid":
		v := g.id("ABIA")
		return v, []string{v}, nil
	case "cid":
		v := g.id("ACCA")
		return v, []string{v}, nil
	case "aid": // an old key: A3T and one more character
		v := g.id("A3T" + g.from(base32Chars, 1))
		return v, []string{v}, nil
	case "secret":
		v := g.secret()
		return v, []string{v}, nil
	case "secret+": // starting with '+'
		v := "+" + g.secret()[1:]
		return v, []string{v}, nil
	case "secret%": // URL-encoded
		v := g.secretWith('/')
		return url.QueryEscape(v), []string{v}, nil
	case `secret\/`: // JSON with '/' escaped
		v := g.secretWith('/')
		return strings.ReplaceAll(v, "/", `\/`), []string{v}, nil
	case "b64id":
		v := g.id("AKIA")
		return base64.StdEncoding.EncodeToString([]byte(v)), []string{v}, nil
	case "b64secret":
		v := g.secret()
		return base64.StdEncoding.EncodeToString([]byte(v)), []string{v}, nil
	case "b64creds": // a whole credentials file
		id, s := g.id("AKIA"), g.secret()
		file := "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + s + "\n"
		return base64.StdEncoding.EncodeToString([]byte(file)), []string{id, s}, nil
	case "b64creds76", "b64creds64": // a whole credentials file, wrapped as base64 and openssl base64 write it
		id, s := g.id("AKIA"), g.secret()
		file := "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + s + "\n"
		b64, width := base64.StdEncoding.EncodeToString([]byte(file)), 76
		if name == "b64creds64" {
			width = 64
		}
		var b strings.Builder
		for ; len(b64) > width; b64 = b64[width:] {
			b.WriteString(b64[:width] + "\n")
		}
		return b.String() + b64, []string{id, s}, nil
	case "jwt": // claims carrying a temporary key
		id, s := g.id("ASIA"), g.secret()
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		body := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"ci","accessKeyId":"` + id +
			`","secretAccessKey":"` + s + `","exp":1700000000}`))
		return head + "." + body + "." + g.from(secretChars[:62], 43), []string{id, s}, nil
	case "token": // a session token: long base64
		return g.from(secretChars, 356), nil, nil
	case "rand40": // 40 random characters, not a secret here
		return g.secret(), nil, nil
	case "hex40":
		return g.from("0123456789abcdef", 40), nil, nil
	case "HEX40":
		return g.from("0123456789ABCDEF", 40), nil, nil
	case "b64-44": // a SHA-256 in base64
		return g.from(secretChars, 43) + "=", nil, nil
	case "b64-88": // a SHA-512 in base64
		return g.from(secretChars, 86) + "==", nil, nil
	case "b64-64": // a line of a PEM block
		return g.from(secretChars, 64), nil, nil
	case "uuid":
		h := g.from("0123456789abcdef", 32)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil, nil
	case "AKIA", "ASIA": // a prefix alone, for placeholders written in the template
		return name, nil, nil
	}
	for _, p := range []string{"AIDA", "AROA", "AGPA", "ANPA", "ANVA", "APKA", "AIPA", "ASCA"} {
		if name == p && p == "APKA" { // a CloudFront key pair ID: 20
			return p + g.from(base32Chars, 16), nil, nil
		}
		if name == p { // an IAM unique ID: 21 characters
			return p + g.from(base32Chars, 17), nil, nil
		}
	}
	return "", nil, fmt.Errorf("unknown corpus value {{%s}}", name)
}
