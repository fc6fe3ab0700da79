package moto

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// Request is one AWS API call moto received.
type Request struct {
	Action string            // "GetSessionToken", from Action= in the form body or query
	Params map[string]string // the other form and query parameters: SerialNumber, TokenCode, RoleArn, DurationSeconds, ...
	// SigningKeyID is the access key ID that signed the request, from the
	// Authorization header's Credential= (or a presigned X-Amz-Credential).
	SigningKeyID  string
	SecurityToken bool   // whether X-Amz-Security-Token was sent, i.e. signed with session credentials
	Service       string // "sts" or "iam", from the credential scope
	Region        string // from the credential scope
	Method        string
	Path          string
	Header        http.Header // as moto recorded it, including Authorization and X-Amz-Security-Token
}

// Requests returns every AWS API call moto recorded since it started or was
// last Reset, oldest first. It leaves out calls to moto's own /moto-api/ and
// the calls made by this package's helpers (NewUserKey, NewMFADevice,
// NewRole, EnforceAuth), which are signed with keys of their own.
//
// moto appends a line to the recording before it handles a request, so a call
// whose response the client has seen is always there.
func (s *Server) Requests(t testing.TB) []Request {
	t.Helper()
	b, err := os.ReadFile(s.recordFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("moto: reading recording: %v", err)
	}
	// moto may be writing a line for a request still in flight; leave it.
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	all, err := parseRecording(b)
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var reqs []Request
	for _, r := range all {
		if !s.helperKeys[r.SigningKeyID] {
			reqs = append(reqs, r)
		}
	}
	return reqs
}

// Count returns how many recorded calls had this Action, e.g. "GetSessionToken".
func (s *Server) Count(t testing.TB, action string) int {
	t.Helper()
	n := 0
	for _, r := range s.Requests(t) {
		if r.Action == action {
			n++
		}
	}
	return n
}

// recordEntry is one line of moto's recording (moto_api/_internal/recorder):
// JSON with the request's headers, method and full URL, and the body, base64
// when body_encoded is true (always, for requests moto_server receives).
type recordEntry struct {
	Headers     map[string]string `json:"headers"`
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	Body        *string           `json:"body"`
	BodyEncoded bool              `json:"body_encoded"`
}

func parseRecording(b []byte) ([]Request, error) {
	var reqs []Request
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r, keep, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("recording line %d: %w", n, err)
		}
		if keep {
			reqs = append(reqs, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading recording: %w", err)
	}
	return reqs, nil
}

// parseEntry turns one recorded line into a Request; keep is false for
// calls to /moto-api/.
func parseEntry(line []byte) (r Request, keep bool, err error) {
	var e recordEntry
	if err := json.Unmarshal(line, &e); err != nil {
		return Request{}, false, fmt.Errorf("decoding entry: %w", err)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		return Request{}, false, fmt.Errorf("parsing url: %w", err)
	}
	if strings.HasPrefix(u.Path, "/moto-api/") {
		return Request{}, false, nil
	}
	var body []byte
	if e.Body != nil {
		body = []byte(*e.Body)
		if e.BodyEncoded {
			if body, err = base64.StdEncoding.DecodeString(*e.Body); err != nil {
				return Request{}, false, fmt.Errorf("decoding body: %w", err)
			}
		}
	}

	r = Request{
		Method: e.Method,
		Path:   u.Path,
		Params: map[string]string{},
		Header: http.Header{},
	}
	for k, v := range e.Headers {
		r.Header.Set(k, v)
	}

	params := u.Query()
	if form, ok := formBody(r.Header, body); ok {
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	for k, vs := range params {
		if len(vs) > 0 {
			r.Params[k] = vs[len(vs)-1]
		}
	}
	r.Action = r.Params["Action"]
	delete(r.Params, "Action")

	// JSON protocols name the operation in X-Amz-Target ("Service.Operation").
	if target := r.Header.Get("X-Amz-Target"); r.Action == "" && target != "" {
		r.Action = target[strings.LastIndex(target, ".")+1:]
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					r.Params[k] = s
				} else if b, err := json.Marshal(v); err == nil {
					r.Params[k] = string(b)
				}
			}
		}
	}

	scope := credentialScope(r.Header.Get("Authorization"))
	if scope == "" {
		scope = params.Get("X-Amz-Credential")
	}
	// AKID/date/region/service/aws4_request
	if f := strings.Split(scope, "/"); len(f) == 5 {
		r.SigningKeyID, r.Region, r.Service = f[0], f[2], f[3]
	}
	r.SecurityToken = r.Header.Get("X-Amz-Security-Token") != "" || params.Get("X-Amz-Security-Token") != ""
	return r, true, nil
}

// formBody decodes an application/x-www-form-urlencoded body, the AWS query
// protocol that STS and IAM speak.
func formBody(h http.Header, body []byte) (url.Values, bool) {
	if len(body) == 0 {
		return nil, false
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, false
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, false
	}
	return v, true
}

// credentialScope returns "AKID/date/region/service/aws4_request" from a
// SigV4 Authorization header, or "".
func credentialScope(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, ", "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
