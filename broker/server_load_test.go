package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

// noSTS fails every call: the load test's session is cached, so a call to
// STS means the server minted where it should have served the cache.
type noSTS struct {
	stsAPI
	calls *atomic.Int64
}

func (n noSTS) GetSessionToken(context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	n.calls.Add(1)
	return nil, fmt.Errorf("no STS in this test")
}

func (n noSTS) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	n.calls.Add(1)
	return nil, fmt.Errorf("no STS in this test")
}

// TestCredentialServerUnderLoad: 1,000 requests from a few clients, every
// other one hostile (no token, a wrong one, a prefix of the right one, a
// foreign Host). Every good request gets the cached session, every bad one
// is refused with no credential byte in its answer, nothing asks STS or for
// an MFA code, and the server's memory does not grow with the requests.
func TestCredentialServerUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	text := "[profile dev]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var stsCalls atomic.Int64
	mfaCodes := &codes{}
	b := &Broker{
		Config:  cfg,
		Vault:   vault.New(keyring.NewArrayKeyring(nil), "t"),
		MFA:     mfaCodes,
		LockDir: t.TempDir(),
		Clients: Clients{STS: func(Creds, string) stsAPI { return noSTS{calls: &stsCalls} }},
	}
	key := vault.Key{AccessKeyID: "AKIALOADTESTKEY00001", SecretAccessKey: "longTermSecretLongTermSecretLongTermSecr", Added: time.Now().UTC()}
	if err := b.Vault.SetKey("dev", key); err != nil {
		t.Fatal(err)
	}
	plan, err := b.Plan("dev")
	if err != nil {
		t.Fatal(err)
	}
	session := vault.Session{
		ID: cacheID(plan, key, 0), Profile: "dev", SourceKeyID: key.AccessKeyID,
		AccessKeyID:     "ASIALOADTESTSESSION1",
		SecretAccessKey: "sessionSecretSessionSecretSessionSecret1",
		SessionToken:    "FwoGZXIvYXdzLOADTESTSESSIONTOKEN" + strings.Repeat("x", 200),
		Expiration:      time.Now().Add(12 * time.Hour).UTC().Truncate(time.Second),
	}
	if err := b.Vault.SetSession(session); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	token := strings.Repeat("5e", 32)
	cs := NewCredentialServer(b, "dev", token, addr)
	hs := &http.Server{Handler: cs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); cs.Close() })

	url := "http://" + addr + CredentialsPath
	client := &http.Client{Timeout: 30 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	// The hostile requests, in turn.
	type bad struct {
		name, host, token string
		want              int
	}
	bads := []bad{
		{"no token", "", "", http.StatusUnauthorized},
		{"wrong token", "", strings.Repeat("0", 64), http.StatusForbidden},
		{"token prefix", "", token[:63], http.StatusForbidden},
		{"token and more", "", token + "0", http.StatusForbidden},
		{"foreign host", "attacker.example:" + port, token, http.StatusMisdirectedRequest},
		{"localhost", "localhost:" + port, token, http.StatusMisdirectedRequest},
	}
	secrets := []string{session.AccessKeyID, session.SecretAccessKey, session.SessionToken, key.SecretAccessKey}

	// send makes requests from..to-1 from workers clients at once; request i
	// is good when i is even. It returns the first thing that went wrong.
	send := func(from, to, workers int) error {
		var (
			next    atomic.Int64
			wg      sync.WaitGroup
			errOnce sync.Once
			first   error
		)
		next.Store(int64(from))
		fail := func(err error) { errOnce.Do(func() { first = err }) }
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= to {
						return
					}
					host, tok, want, name := "", token, http.StatusOK, "good"
					if i%2 == 1 {
						bd := bads[(i/2)%len(bads)]
						host, tok, want, name = bd.host, bd.token, bd.want, bd.name
					}
					req, err := http.NewRequest(http.MethodGet, url, nil)
					if err != nil {
						fail(err)
						return
					}
					if host != "" {
						req.Host = host
					}
					if tok != "" {
						req.Header.Set("Authorization", tok)
					}
					resp, err := client.Do(req)
					if err != nil {
						fail(fmt.Errorf("request %d (%s): %w", i, name, err))
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						fail(fmt.Errorf("request %d (%s): reading: %w", i, name, err))
						return
					}
					if resp.StatusCode != want {
						fail(fmt.Errorf("request %d (%s): status %d, want %d", i, name, resp.StatusCode, want))
						continue
					}
					if want != http.StatusOK {
						for _, s := range secrets {
							if bytes.Contains(body, []byte(s)) {
								fail(fmt.Errorf("request %d (%s): the refusal carries a credential", i, name))
							}
						}
						continue
					}
					var c containerCredentials
					if err := json.Unmarshal(body, &c); err != nil {
						fail(fmt.Errorf("request %d: answer is not JSON: %w", i, err))
						continue
					}
					if c.AccessKeyID != session.AccessKeyID || c.SecretAccessKey != session.SecretAccessKey ||
						c.Token != session.SessionToken || c.Expiration != session.Expiration.Format(time.RFC3339) {
						fail(fmt.Errorf("request %d: served key %q expiring %q, want the cached session", i, c.AccessKeyID, c.Expiration))
					}
				}
			}()
		}
		wg.Wait()
		return first
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}

	const workers, warm, total = 4, 100, 1000
	if err := send(0, warm, workers); err != nil {
		t.Fatal(err)
	}
	before := heap()
	if err := send(warm, total, workers); err != nil {
		t.Fatal(err)
	}
	after := heap()
	// Flat, not timed: 900 more requests may cost a little noise from the
	// runtime and the race detector, not memory per request.
	t.Logf("heap in use: %d bytes after %d requests, %d after %d", before, warm, after, total)
	const bound = 4 << 20
	if after > before && after-before > bound {
		t.Errorf("heap in use grew from %d to %d bytes over %d requests, want under %d bytes of growth",
			before, after, total-warm, bound)
	}
	if n := stsCalls.Load(); n != 0 {
		t.Errorf("%d STS calls: the server did not serve the cached session", n)
	}
	if n := mfaCodes.count(); n != 0 {
		t.Errorf("%d MFA codes asked", n)
	}
}
