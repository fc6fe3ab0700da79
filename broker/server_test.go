package broker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/internal/moto"
	"github.com/broker-dev/broker/vault"
)

// serverWorld is moto, a keychain in memory holding alice's key for profile
// base, a role profile deploy on top of it, and a CredentialServer for
// deploy on a real loopback listener. The clock is steerable, and STS's
// answers are moved onto it: moto computes Expiration from the real time.
type serverWorld struct {
	t     *testing.T
	aws   *moto.Server
	b     *Broker
	codes *codes
	url   string
	token string

	mu     sync.Mutex
	offset time.Duration // how far the broker's clock is ahead of the real one
}

func newServerWorld(t *testing.T) *serverWorld {
	t.Helper()
	srv := moto.Start(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	id, secret := srv.NewUserKey(t, testUser)
	serial := srv.NewMFADevice(t, testUser)
	role := srv.NewRole(t, "deployer")
	// The MFA session lasts 2 h, the role's sessions 1 h.
	text := "[profile base]\nregion = eu-west-1\nmfa_serial = " + serial + "\nbroker_session_duration = 2h\n\n" +
		"[profile deploy]\nsource_profile = base\nrole_arn = " + role + "\nduration_seconds = 3600\n"
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &serverWorld{t: t, aws: srv, codes: &codes{}, token: strings.Repeat("ab", 32)}
	real := DefaultClients()
	w.b = &Broker{
		Config:  cfg,
		Vault:   vault.New(keyring.NewArrayKeyring(nil), "t"),
		MFA:     w.codes,
		LockDir: t.TempDir(),
		Now:     func() time.Time { return time.Now().Add(w.ahead()) },
		Clients: Clients{STS: func(c Creds, region string) stsAPI {
			return shiftedSTS{real.STS(c, region), w.ahead}
		}},
	}
	if err := w.b.Vault.SetKey("base", vault.Key{AccessKeyID: id, SecretAccessKey: secret, Added: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cs := NewCredentialServer(w.b, "deploy", w.token, ln.Addr().String())
	hs := &http.Server{Handler: cs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); cs.Close() })
	w.url = "http://" + ln.Addr().String() + CredentialsPath
	return w
}

func (w *serverWorld) ahead() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.offset
}

func (w *serverWorld) advance(d time.Duration) {
	w.mu.Lock()
	w.offset += d
	w.mu.Unlock()
}

// shiftedSTS is moto seen from the steered clock: a session STS grants for
// D is valid until the broker's now + D.
type shiftedSTS struct {
	stsAPI
	ahead func() time.Duration
}

func (s shiftedSTS) GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, opts ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	out, err := s.stsAPI.GetSessionToken(ctx, in, opts...)
	if err == nil && out.Credentials != nil && out.Credentials.Expiration != nil {
		*out.Credentials.Expiration = out.Credentials.Expiration.Add(s.ahead())
	}
	return out, err
}

func (s shiftedSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	out, err := s.stsAPI.AssumeRole(ctx, in, opts...)
	if err == nil && out.Credentials != nil && out.Credentials.Expiration != nil {
		*out.Credentials.Expiration = out.Credentials.Expiration.Add(s.ahead())
	}
	return out, err
}

// get sends one request to the server and decodes the answer.
func (w *serverWorld) get(method, path, host, token string) (int, containerCredentials) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(w.url, CredentialsPath)+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var c containerCredentials
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			w.t.Fatal(err)
		}
	}
	return resp.StatusCode, c
}

// good is a request the SDKs would send; it must succeed.
func (w *serverWorld) good() containerCredentials {
	w.t.Helper()
	status, c := w.get(http.MethodGet, CredentialsPath, "", w.token)
	if status != http.StatusOK {
		w.t.Fatalf("GET with the token: status %d", status)
	}
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil || !strings.HasSuffix(c.Expiration, "Z") {
		w.t.Fatalf("Expiration %q is not RFC 3339 UTC", c.Expiration)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.Token == "" {
		w.t.Fatalf("incomplete credentials for key %q", c.AccessKeyID)
	}
	if left := exp.Sub(w.b.now()); left < MinRemaining {
		w.t.Fatalf("served a session with %v left", left)
	}
	return c
}

func TestCredentialServerRefuses(t *testing.T) {
	w := newServerWorld(t)
	host := strings.TrimSuffix(strings.TrimPrefix(w.url, "http://"), CredentialsPath)
	_, port, _ := net.SplitHostPort(host)
	for _, tc := range []struct {
		name, method, path, host, token string
		want                            int
	}{
		{"no token", "GET", CredentialsPath, "", "", http.StatusUnauthorized},
		{"wrong token", "GET", CredentialsPath, "", strings.Repeat("cd", 32), http.StatusForbidden},
		{"token prefix", "GET", CredentialsPath, "", w.token[:32], http.StatusForbidden},
		{"Bearer token", "GET", CredentialsPath, "", "Bearer " + w.token, http.StatusForbidden},
		{"foreign host", "GET", CredentialsPath, "attacker.example:" + port, w.token, http.StatusMisdirectedRequest},
		{"localhost", "GET", CredentialsPath, "localhost:" + port, w.token, http.StatusMisdirectedRequest},
		{"no port", "GET", CredentialsPath, "127.0.0.1", w.token, http.StatusMisdirectedRequest},
		{"POST", "POST", CredentialsPath, "", w.token, http.StatusMethodNotAllowed},
		{"PUT", "PUT", CredentialsPath, "", w.token, http.StatusMethodNotAllowed},
		{"other path", "GET", "/", "", w.token, http.StatusNotFound},
		{"role path", "GET", "/latest/meta-data/iam/security-credentials/x", "", w.token, http.StatusNotFound},
	} {
		if status, _ := w.get(tc.method, tc.path, tc.host, tc.token); status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
	}
	if n := w.codes.count(); n != 0 {
		t.Errorf("refused requests asked for %d MFA codes", n)
	}
	if n := len(w.aws.Requests(t)); n != 0 {
		t.Errorf("refused requests made %d AWS calls", n)
	}
	c := w.good()
	if c.AccessKeyID == moto.FixedSessionKeyID {
		t.Error("served the MFA session, not the role's")
	}
}

// TestCredentialServerRefresh steers the clock across more than two lifetimes
// of the role's session: each time less than MinRemaining is left the role
// is assumed again from the cached MFA session, and a new MFA code is asked
// for only once the 2 h MFA session itself runs out.
func TestCredentialServerRefresh(t *testing.T) {
	w := newServerWorld(t)
	check := func(when string, codes, gst, ar int) {
		t.Helper()
		if n := w.codes.count(); n != codes {
			t.Errorf("%s: %d MFA codes asked for, want %d", when, n, codes)
		}
		if n := w.aws.Count(t, "GetSessionToken"); n != gst {
			t.Errorf("%s: %d GetSessionToken calls, want %d", when, n, gst)
		}
		if n := w.aws.Count(t, "AssumeRole"); n != ar {
			t.Errorf("%s: %d AssumeRole calls, want %d", when, n, ar)
		}
	}
	first := w.good()
	check("first request", 1, 1, 1)
	if again := w.good(); again != first {
		t.Error("a second request at once got another session")
	}
	check("second request", 1, 1, 1)

	w.advance(50 * time.Minute) // the role session has 10 min left
	second := w.good()
	if second.AccessKeyID == first.AccessKeyID {
		t.Fatal("a session with 10 minutes left was served")
	}
	check("after 50 min", 1, 1, 2)

	w.advance(50 * time.Minute) // 1h40: the role again; the MFA session has 20 min left
	third := w.good()
	if third.AccessKeyID == second.AccessKeyID {
		t.Fatal("the second role session was served past its refresh time")
	}
	check("after 1h40", 1, 1, 3)

	w.advance(20 * time.Minute) // 2h00: the role session is fresh enough
	if c := w.good(); c != third {
		t.Error("a role session with 40 minutes left was replaced")
	}
	check("after 2h", 1, 1, 3)

	w.advance(30 * time.Minute) // 2h30: role and MFA session both due
	fourth := w.good()
	if fourth.AccessKeyID == third.AccessKeyID {
		t.Fatal("the third role session was served past its refresh time")
	}
	check("after 2h30", 2, 2, 4)
}

// TestCredentialServerConcurrent: requests arriving together share one
// refresh and one MFA code.
func TestCredentialServerConcurrent(t *testing.T) {
	w := newServerWorld(t)
	var wg sync.WaitGroup
	got := make([]containerCredentials, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, got[i] = w.get(http.MethodGet, CredentialsPath, "", w.token)
		}()
	}
	wg.Wait()
	for i, c := range got {
		if c.AccessKeyID == "" || c != got[0] {
			t.Errorf("request %d got key %q, want the one session", i, c.AccessKeyID)
		}
	}
	if n := w.codes.count(); n != 1 {
		t.Errorf("%d MFA codes for concurrent requests, want 1", n)
	}
	if n := w.aws.Count(t, "AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls for concurrent requests, want 1", n)
	}
}
