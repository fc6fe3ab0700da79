package broker

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// CredentialsPath is the one path a CredentialServer answers on. It is no
// secret: the token is.
const CredentialsPath = "/broker/credentials"

// CredentialServer answers the AWS SDKs' container credentials provider
// (AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN)
// with one profile's session credentials, from the cache or freshly minted as
// sessions near expiry. It serves only the profile it was made for: holding
// the token gets that profile's session, never another role.
type CredentialServer struct {
	b       *Broker
	profile string
	token   []byte
	host    string // the exact Host header a client of this listener sends

	// OnError is told why a refresh failed (the client gets only a short
	// message), once per failed refresh; nil ignores it.
	OnError func(error)

	ctx    context.Context // refreshes run under it: a client that gives up does not stop an MFA prompt
	cancel context.CancelFunc

	mu       sync.Mutex
	inflight *refresh
}

// refresh is one b.Credentials call shared by the requests that arrive while
// it runs.
type refresh struct {
	done  chan struct{}
	creds Credentials
	err   error
}

// NewCredentialServer returns a handler serving profile's credentials to
// requests for http://addr/broker/credentials (addr is the listener's
// 127.0.0.1:PORT) whose Authorization header is token.
func NewCredentialServer(b *Broker, profile, token, addr string) *CredentialServer {
	ctx, cancel := context.WithCancel(context.Background())
	return &CredentialServer{b: b, profile: profile, token: []byte(token), host: addr, ctx: ctx, cancel: cancel}
}

// Close stops a refresh in progress (an MFA prompt, a wait on another
// process's lock); later requests fail.
func (s *CredentialServer) Close() { s.cancel() }

// containerCredentials is the document the SDKs' container provider reads.
type containerCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

func (s *CredentialServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The Host check first: a page in a browser can make the browser send
	// requests here through a DNS name that resolves to 127.0.0.1 (DNS
	// rebinding); such a request never names 127.0.0.1:PORT.
	if r.Host != s.host {
		s.refuse(w, r, http.StatusMisdirectedRequest, "wrong host")
		return
	}
	if r.URL.Path != CredentialsPath {
		s.refuse(w, r, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		s.refuse(w, r, http.StatusMethodNotAllowed, "only GET")
		return
	}
	// The SDKs send AWS_CONTAINER_AUTHORIZATION_TOKEN verbatim.
	got := r.Header.Get("Authorization")
	if got == "" {
		s.refuse(w, r, http.StatusUnauthorized, "missing authorization token")
		return
	}
	if subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
		s.refuse(w, r, http.StatusForbidden, "wrong authorization token")
		return
	}
	creds, err := s.credentials(r.Context())
	if err != nil {
		s.b.debugf("credential server: profile %q: %v", s.profile, err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "broker could not get credentials for profile " + s.profile})
		return
	}
	s.b.debugf("credential server: served profile %q until %s", s.profile, creds.Expiration.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusOK, containerCredentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		Token:           creds.SessionToken,
		Expiration:      creds.Expiration.UTC().Format(time.RFC3339),
	})
}

func (s *CredentialServer) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.b.debugf("credential server: refused %s %s for host %q: %s", r.Method, r.URL.Path, r.Host, msg)
	// A client without the token gets one answer per connection: it cannot
	// keep connections open by sending requests.
	w.Header().Set("Connection", "close")
	writeJSON(w, status, map[string]string{"message": msg})
}

// credentials returns the profile's credentials through one b.Credentials
// call at a time: requests arriving during a refresh share it. The refresh
// runs under the server's context, so an SDK that times out while a person
// types an MFA code does not abort the prompt; its retry gets the session.
func (s *CredentialServer) credentials(ctx context.Context) (Credentials, error) {
	s.mu.Lock()
	f := s.inflight
	if f == nil {
		f = &refresh{done: make(chan struct{})}
		s.inflight = f
		go func() {
			f.creds, f.err = s.b.Credentials(s.ctx, s.profile)
			if f.err != nil && s.OnError != nil && s.ctx.Err() == nil {
				s.OnError(f.err)
			}
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.creds, f.err
	case <-ctx.Done():
		return Credentials{}, ctx.Err()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
