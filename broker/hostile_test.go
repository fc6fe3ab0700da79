package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
)

// Hostile STS: a fake STS on loopback answers GetSessionToken badly, and the
// Broker, built with DefaultClients as the CLI builds it, must fail with a
// clear error, store nothing and return within a bound, or recover.

const (
	hostileKeyID     = "AKIAIOSFODNN7EXAMPLE"
	hostileKeySecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYHOSTILEKEY"
	// hostileSessionSecret is what the fake STS hands out as a secret key: it
	// must never show in an error, even one about a broken answer.
	hostileSessionSecret = "sessionSECRETsessionSECRETsessionSECRET1"
)

// hostileSTS answers each GetSessionToken with the next of its handlers; the
// last one answers every request after that.
type hostileSTS struct {
	*httptest.Server
	mu       sync.Mutex
	handlers []http.HandlerFunc
	n        int
}

func newHostileSTS(t *testing.T, handlers ...http.HandlerFunc) *hostileSTS {
	t.Helper()
	f := &hostileSTS{handlers: handlers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "GetSessionToken" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		h := f.handlers[min(f.n, len(f.handlers)-1)]
		f.n++
		f.mu.Unlock()
		h(w, r)
	}))
	// Close does not wait for handlers that block: cancel them first.
	t.Cleanup(func() {
		f.CloseClientConnections()
		f.Close()
	})
	return f
}

func (f *hostileSTS) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// stsXML answers with body as an STS query-protocol document.
func stsXML(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// sessionXML is a GetSessionToken answer; a field given as "" is left out.
func sessionXML(keyID, secret, token, expiration string) string {
	var c strings.Builder
	for _, f := range [][2]string{{"AccessKeyId", keyID}, {"SecretAccessKey", secret}, {"SessionToken", token}, {"Expiration", expiration}} {
		if f[1] != "" {
			fmt.Fprintf(&c, "<%s>%s</%s>", f[0], f[1], f[0])
		}
	}
	return `<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult><Credentials>` + c.String() + `</Credentials></GetSessionTokenResult>
  <ResponseMetadata><RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId></ResponseMetadata>
</GetSessionTokenResponse>`
}

func goodSession() http.HandlerFunc {
	exp := time.Now().Add(8 * time.Hour).UTC().Format(time.RFC3339)
	return stsXML(http.StatusOK, sessionXML("ASIAHOSTILESESSION01", hostileSessionSecret, "FwoGZXIvYXdzEHostileToken", exp))
}

const internalFailure = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal failure</Message></Error>
  <RequestId>5b3f7d0e-0000-4000-8000-000000000500</RequestId>
</ErrorResponse>`

// hostileCode is an MFA token source that always has a code.
type hostileCode struct{}

func (hostileCode) Code(context.Context, mfa.Request) (string, bool, error) {
	return "123456", false, nil
}

// hostileBroker is a Broker as the CLI builds it, with STS at endpoint.
func hostileBroker(t *testing.T, endpoint string) *Broker {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")
	cfg, err := awsconfig.Parse("config", []byte("[profile dev]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{
		Config:  cfg,
		Vault:   vault.New(keyring.NewArrayKeyring(nil), "t"),
		MFA:     hostileCode{},
		Clients: DefaultClients(),
		LockDir: t.TempDir(),
	}
	if err := b.Vault.SetKey("dev", vault.Key{AccessKeyID: hostileKeyID, SecretAccessKey: hostileKeySecret, Added: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHostileSTS(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(8 * time.Hour).UTC().Format(time.RFC3339)
	soon := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		message string // the error contains this
	}{
		{"malformed XML", stsXML(http.StatusOK, `<GetSessionTokenResponse><GetSessionTokenResult><Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>`+hostileSessionSecret+`</Secret`), "GetSessionToken"},
		{"not XML at all", stsXML(http.StatusOK, "\x00\xff\xfe binary junk "+hostileSessionSecret), "GetSessionToken"},
		{"empty body", stsXML(http.StatusOK, ""), "incomplete credentials"},
		{"missing SessionToken", stsXML(http.StatusOK, sessionXML("ASIAX", hostileSessionSecret, "", future)), "incomplete credentials"},
		{"missing Expiration", stsXML(http.StatusOK, sessionXML("ASIAX", hostileSessionSecret, "tok", "")), "incomplete credentials"},
		{"malformed Expiration", stsXML(http.StatusOK, sessionXML("ASIAX", hostileSessionSecret, "tok", "tomorrow-ish")), "GetSessionToken"},
		{"already expired", stsXML(http.StatusOK, sessionXML("ASIAX", hostileSessionSecret, "tok", past)), "already expired"},
		{"empty AccessKeyId", stsXML(http.StatusOK, strings.Replace(sessionXML("ASIAX", hostileSessionSecret, "tok", future), "ASIAX", "", 1)), "incomplete credentials"},
		{"5 minutes left", stsXML(http.StatusOK, sessionXML("ASIAX", hostileSessionSecret, "tok", soon)), "less than 15m0s left"},
		{"500 forever", stsXML(http.StatusInternalServerError, internalFailure), "InternalFailure"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newHostileSTS(t, c.handler)
			b := hostileBroker(t, fake.URL)
			creds, err := b.Credentials(context.Background(), "dev")
			if err == nil {
				t.Fatalf("Credentials succeeded with %q: %+v", c.name, creds.AccessKeyID)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
			for _, secret := range []string{hostileKeySecret, hostileSessionSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes a secret: %q", err)
				}
			}
			if all, err := b.Vault.Sessions(); err != nil || len(all) != 0 {
				t.Errorf("sessions stored after a failure: %d, %v", len(all), err)
			}
		})
	}
}

// TestHostileSTSRecovers: two 500s and then an answer is a success, through
// the SDK's retries: one session stored, three requests seen.
func TestHostileSTSRecovers(t *testing.T) {
	fail := stsXML(http.StatusInternalServerError, internalFailure)
	fake := newHostileSTS(t, fail, fail, goodSession())
	b := hostileBroker(t, fake.URL)
	creds, err := b.Credentials(context.Background(), "dev")
	if err != nil {
		t.Fatalf("Credentials after two 500s: %v", err)
	}
	if creds.AccessKeyID != "ASIAHOSTILESESSION01" {
		t.Errorf("got session %q, want the one STS answered", creds.AccessKeyID)
	}
	if n := fake.requests(); n != 3 {
		t.Errorf("STS saw %d requests, want 3", n)
	}
	if all, err := b.Vault.Sessions(); err != nil || len(all) != 1 || all[0].AccessKeyID != creds.AccessKeyID {
		t.Errorf("sessions stored: %+v, %v; want the one minted", len(all), err)
	}
}

// TestHostileSTSSlow: an STS that never answers makes Credentials fail as
// unreachable within the bound on one AWS call (requestTimeout), not after
// every retry of the HTTP client's own timeout.
func TestHostileSTSSlow(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for requestTimeout")
	}
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Minute):
		}
	}
	fake := newHostileSTS(t, hang)
	b := hostileBroker(t, fake.URL)
	start := time.Now()
	_, err := b.Credentials(context.Background(), "dev")
	took := time.Since(start)
	var down *UnreachableError
	if !errors.As(err, &down) {
		t.Fatalf("error %v (%T), want an UnreachableError", err, err)
	}
	if !strings.Contains(err.Error(), fake.URL) {
		t.Errorf("error %q does not name the endpoint", err)
	}
	// The bound is requestTimeout; the slack is for a loaded machine.
	if took > requestTimeout+20*time.Second {
		t.Errorf("Credentials returned after %v; one AWS call is bounded by %v", took, requestTimeout)
	}
	if all, err := b.Vault.Sessions(); err != nil || len(all) != 0 {
		t.Errorf("sessions stored after a failure: %d, %v", len(all), err)
	}
}
