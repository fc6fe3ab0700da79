//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeFederation is the AWS federation endpoint on loopback, in the test
// process: it answers getSigninToken with a fixed token and keeps each query.
type fakeFederation struct {
	srv   *httptest.Server
	mu    sync.Mutex
	seen  []url.Values
	token string
}

func newFakeFederation(t *testing.T) *fakeFederation {
	f := &fakeFederation{token: "signin-" + randomHex(t, 8)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.URL.Query())
		f.mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != "/federation" || r.URL.Query().Get("Action") != "getSigninToken" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"SigninToken":%q}`, f.token)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFederation) env() []string {
	return []string{"BROKER_FEDERATION_URL=" + f.srv.URL + "/federation"}
}

// only returns the one getSigninToken request and its Session document.
func (f *fakeFederation) only(t *testing.T) (url.Values, map[string]string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) != 1 {
		t.Fatalf("the federation endpoint saw %d requests, want 1", len(f.seen))
	}
	var session map[string]string
	if err := json.Unmarshal([]byte(f.seen[0].Get("Session")), &session); err != nil {
		t.Fatalf("Session is not JSON: %v", err)
	}
	if len(session) != 3 || session["sessionId"] == "" || session["sessionKey"] == "" || session["sessionToken"] == "" {
		t.Fatalf("Session has fields %v, want sessionId, sessionKey and sessionToken", keysOf(session))
	}
	return f.seen[0], session
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// checkLoginURL checks a printed sign-in URL: the fake's endpoint, Action=login,
// the fake's token, and the console destination.
func checkLoginURL(t *testing.T, f *fakeFederation, raw, destination string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("not a URL: %q", raw)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host != f.srv.URL || u.Path != "/federation" {
		t.Errorf("URL %s is not at the federation endpoint %s", raw, f.srv.URL)
	}
	if q.Get("Action") != "login" || q.Get("SigninToken") != f.token || q.Get("Destination") != destination {
		t.Errorf("URL carries Action=%q SigninToken=%q Destination=%q; want login, %q, %q",
			q.Get("Action"), q.Get("SigninToken"), q.Get("Destination"), f.token, destination)
	}
}

// motoFederationKey: moto answers every GetFederationToken with AWS's
// documentation example credentials.
const (
	motoFederationKey    = "AKIAIOSFODNN7EXAMPLE"
	motoFederationSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
)

func TestLoginIAMUserStdout(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s
duration_seconds = 7200
`, u.serial, w.mfaProcess("123456")))
	w.addKey("dev", u)
	fed := newFakeFederation(t)

	r := w.cmd(fed.env(), brokerBin, "login", "--stdout", "dev")
	if r.code != 0 {
		t.Fatalf("broker login: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Fatalf("stdout is not one URL line: %q", r.stdout)
	}
	checkLoginURL(t, fed, lines[0], "https://console.aws.amazon.com/console/home?region=eu-west-1")
	if strings.Contains(r.stderr, fed.token) {
		t.Errorf("the sign-in token reached stderr: %s", r.stderr)
	}

	// The MFA session is the gate: one code, GetSessionToken with the device.
	gst := w.calls("GetSessionToken")
	if w.mfaAsks() != 1 || len(gst) != 1 || gst[0].Params["SerialNumber"] != u.serial {
		t.Errorf("MFA gate: %d codes asked, %d GetSessionToken calls", w.mfaAsks(), len(gst))
	}
	// GetFederationToken signed by the long-term key, for duration_seconds.
	ft := w.calls("GetFederationToken")
	if len(ft) != 1 {
		t.Fatalf("moto saw %d GetFederationToken calls, want 1", len(ft))
	}
	if ft[0].SigningKeyID != u.keyID || ft[0].SecurityToken {
		t.Errorf("GetFederationToken signed by %s (session token %v), want the long-term key", ft[0].SigningKeyID, ft[0].SecurityToken)
	}
	if p := ft[0].Params; p["DurationSeconds"] != "7200" || p["Name"] != "broker-dev" || !strings.Contains(p["Policy"], `"Action":"*"`) {
		t.Errorf("GetFederationToken params %v", p)
	}
	if n := len(w.calls("AssumeRole")); n != 0 {
		t.Errorf("%d AssumeRole calls for an IAM user", n)
	}

	q, session := fed.only(t)
	if session["sessionId"] != motoFederationKey || session["sessionKey"] != motoFederationSecret {
		t.Errorf("Session is %s, want the federation token moto issued (%s)", session["sessionId"], motoFederationKey)
	}
	if q.Has("SessionDuration") {
		t.Errorf("SessionDuration=%s sent with a federation token", q.Get("SessionDuration"))
	}
	w.scanForSecrets(u.secret, fed.token)
}

func TestLoginRole(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("bob")
	role := w.aws.NewRole(t, "deployer")
	w.writeConfig(fmt.Sprintf(`[profile base]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile deploy]
source_profile = base
role_arn = %s
duration_seconds = 7200
region = eu-central-1
`, u.serial, w.mfaProcess("654321"), role))
	w.addKey("base", u)
	fed := newFakeFederation(t)

	// The browser: a fake xdg-open that keeps the URL it was given.
	bin := filepath.Join(w.root, "bin")
	opened := filepath.Join(w.root, "opened")
	if err := os.MkdirAll(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\n", opened)
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(fed.env(), "PATH="+bin+":"+os.Getenv("PATH"))

	r := w.cmd(env, brokerBin, "login", "--path", "s3/home", "deploy")
	if r.code != 0 {
		t.Fatalf("broker login: exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("login printed on stdout: %q", r.stdout)
	}
	b, err := os.ReadFile(opened)
	if err != nil {
		t.Fatalf("xdg-open was not run: %v", err)
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(args) != 1 {
		t.Fatalf("xdg-open got %d arguments, want the URL alone", len(args))
	}
	checkLoginURL(t, fed, args[0], "https://console.aws.amazon.com/s3/home?region=eu-central-1")

	// The role's session, as export hands it out, with the role's duration.
	ar := w.calls("AssumeRole")
	if len(ar) != 1 || ar[0].Params["RoleArn"] != role || ar[0].Params["DurationSeconds"] != "7200" {
		t.Fatalf("AssumeRole calls: %d, %v", len(ar), ar)
	}
	if n := len(w.calls("GetFederationToken")); n != 0 {
		t.Errorf("%d GetFederationToken calls for a role", n)
	}
	q, session := fed.only(t)
	if q.Get("SessionDuration") != "7200" {
		t.Errorf("SessionDuration = %q, want the role's 7200", q.Get("SessionDuration"))
	}
	creds := decodeExport(t, w.mustBroker("export", "deploy"))
	if session["sessionId"] != creds.AccessKeyID || session["sessionKey"] != creds.SecretAccessKey || session["sessionToken"] != creds.SessionToken {
		t.Errorf("Session is %s, want the role session %s", session["sessionId"], creds.AccessKeyID)
	}
	if strings.Contains(string(b), creds.SecretAccessKey) || strings.Contains(string(b), creds.SessionToken) {
		t.Error("the browser opener's argv holds the session credentials")
	}
	if w.mfaAsks() != 1 {
		t.Errorf("MFA code asked %d times, want 1", w.mfaAsks())
	}
}

func TestLoginFailures(t *testing.T) {
	w, _ := setupDev(t)
	// Plain http off loopback would send the credentials in the clear.
	r := w.cmd([]string{"BROKER_FEDERATION_URL=http://signin.example.com/federation"}, brokerBin, "login", "--stdout", "dev")
	assertFailure(t, r, "want https")
	assertFailure(t, w.cmd(nil, brokerBin, "login", "--stdout"), "needs a PROFILE argument")
	if n := len(w.calls("GetFederationToken")); n != 0 {
		t.Errorf("%d GetFederationToken calls for failed logins", n)
	}
}
