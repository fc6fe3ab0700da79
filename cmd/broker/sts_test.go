//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSTS is a loopback STS for the answers moto never gives: credentials
// with an empty part, sessions much shorter than asked. It answers
// GetSessionToken, AssumeRole and GetFederationToken with the credentials a
// test sets per action, and counts the calls.
type fakeSTS struct {
	srv   *httptest.Server
	mu    sync.Mutex
	creds map[string]fakeCreds
	calls map[string]int
}

// fakeCreds is one answer; a zero Expiration leaves the element out.
type fakeCreds struct {
	keyID, secret, token string
	expiration           time.Time
}

const fakeSessionSecret = "fakeSTSsecretFAKESTSsecretFAKESTSsecret0"

// goodCreds is a complete answer that lasts d.
func goodCreds(d time.Duration) fakeCreds {
	return fakeCreds{"ASIAFAKESTS000000001", fakeSessionSecret, "FwoGZXIvYXdzEFakeSTSToken0", time.Now().Add(d)}
}

func newFakeSTS(t *testing.T) *fakeSTS {
	f := &fakeSTS{creds: map[string]fakeCreds{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := ""
		if r.ParseForm() == nil {
			action = r.Form.Get("Action")
		}
		f.mu.Lock()
		f.calls[action]++
		c, ok := f.creds[action]
		f.mu.Unlock()
		if !ok {
			http.Error(w, "unexpected action "+action, http.StatusBadRequest)
			return
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>",
			c.keyID, c.secret, c.token)
		if !c.expiration.IsZero() {
			fmt.Fprintf(&sb, "<Expiration>%s</Expiration>", c.expiration.UTC().Format(time.RFC3339))
		}
		extra := ""
		switch action {
		case "AssumeRole":
			extra = "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>AROA0:s</AssumedRoleId></AssumedRoleUser>"
		case "GetFederationToken":
			extra = "<FederatedUser><Arn>arn:aws:sts::123456789012:federated-user/f</Arn><FederatedUserId>123456789012:f</FederatedUserId></FederatedUser>"
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%[1]sResult><Credentials>%[2]s</Credentials>%[3]s</%[1]sResult>`+
			`<ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></%[1]sResponse>`,
			action, sb.String(), extra)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSTS) answer(action string, c fakeCreds) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creds[action] = c
}

func (f *fakeSTS) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

// env points broker's STS calls (only those) at the fake.
func (f *fakeSTS) env() []string { return []string{"AWS_ENDPOINT_URL_STS=" + f.srv.URL} }

// stsWorld is a world whose user dev (key stored through moto) has a role
// profile deploy on top; STS itself is the fake.
func stsWorld(t *testing.T, extra string) (*world, *fakeSTS) {
	w := newWorld(t)
	u := w.newUser("sts")
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s
%s
[profile deploy]
source_profile = dev
role_arn = arn:aws:iam::123456789012:role/deploy
`, u.serial, w.mfaProcess("123456"), extra))
	w.addKey("dev", u)
	return w, newFakeSTS(t)
}

// refused checks that a broker run failed as a user wants it to: non-zero,
// nothing on stdout, one "broker:" line saying message, no secret.
func refused(t *testing.T, what string, r result, message string) {
	t.Helper()
	if r.code == 0 || r.stdout != "" {
		t.Errorf("%s: exit %d, stdout %q; want a failure with nothing on stdout", what, r.code, r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "broker: ") || !strings.Contains(r.stderr, message) {
		t.Errorf("%s: stderr %q does not say %q", what, r.stderr, message)
	}
	if strings.Contains(r.stderr, fakeSessionSecret) {
		t.Errorf("%s: stderr holds the session secret", what)
	}
}

func (w *world) sessionCount() int {
	n := 0
	for _, r := range decodeList(w.mustBroker("list", "--json")) {
		n += len(r.Sessions)
	}
	return n
}

// TestIncompleteSTSAnswers: a 200 answer from STS with an empty key ID,
// secret or token, or without an expiry, is refused on every path
// (GetSessionToken, AssumeRole, GetFederationToken): export prints nothing,
// exec does not run the command, and nothing is cached.
func TestIncompleteSTSAnswers(t *testing.T) {
	w, fake := stsWorld(t, "")
	good := goodCreds(8 * time.Hour)
	broken := map[string]fakeCreds{
		"empty AccessKeyId":     {"", good.secret, good.token, good.expiration},
		"empty SecretAccessKey": {good.keyID, "", good.token, good.expiration},
		"empty SessionToken":    {good.keyID, good.secret, "", good.expiration},
		"no Expiration":         {good.keyID, good.secret, good.token, time.Time{}},
		"zero Expiration":       {good.keyID, good.secret, good.token, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		"blank SessionToken":    {good.keyID, good.secret, "   ", good.expiration},
	}
	for name, bad := range broken {
		fake.answer("GetSessionToken", bad)
		for _, args := range [][]string{
			{"export", "dev"},
			{"export", "--format", "env", "dev"},
			{"exec", "dev", "--", "sh", "-c", "echo ran"},
			{"export", "deploy"},
		} {
			r := w.cmd(fake.env(), brokerBin, args...)
			refused(t, name+": broker "+strings.Join(args, " "), r, "incomplete credentials")
		}
	}
	// The MFA session is good; the role's answer is not.
	fake.answer("GetSessionToken", good)
	for name, bad := range broken {
		fake.answer("AssumeRole", bad)
		r := w.cmd(fake.env(), brokerBin, "exec", "deploy", "--", "sh", "-c", "echo ran")
		refused(t, name+": AssumeRole for exec deploy", r, "incomplete credentials")
	}
	// GetFederationToken (broker login for an IAM user).
	for name, bad := range broken {
		fake.answer("GetFederationToken", bad)
		r := w.cmd(fake.env(), brokerBin, "login", "--stdout", "dev")
		refused(t, name+": GetFederationToken for login dev", r, "incomplete credentials")
	}
	if fake.count("AssumeRole") == 0 || fake.count("GetFederationToken") == 0 {
		t.Fatalf("the fake saw %d AssumeRole and %d GetFederationToken calls", fake.count("AssumeRole"), fake.count("GetFederationToken"))
	}
	// Only the good MFA session is cached; nothing broken is.
	if n := w.sessionCount(); n != 1 {
		t.Errorf("%d sessions cached, want only the good MFA session", n)
	}
}

// TestShortSessions: broker never hands out a session a client would refuse
// and never asks for an MFA code on every call. A session STS grants for 5
// minutes is an error, not credentials; durations too short to serve are
// refused before any code is asked; the shortest allowed (30 minutes) is
// minted once and served from the cache.
func TestShortSessions(t *testing.T) {
	t.Run("STS grants 5 minutes", func(t *testing.T) {
		w, fake := stsWorld(t, "")
		fake.answer("GetSessionToken", goodCreds(5*time.Minute))
		r := w.cmd(fake.env(), brokerBin, "export", "dev")
		refused(t, "export dev", r, "less than 15m0s left")
		if !strings.Contains(r.stderr, "hint: check the system clock") {
			t.Errorf("no hint: %q", r.stderr)
		}
		r = w.cmd(fake.env(), brokerBin, "exec", "dev", "--", "sh", "-c", "echo ran")
		refused(t, "exec dev", r, "less than 15m0s left")
		// The role's session too.
		fake.answer("GetSessionToken", goodCreds(8*time.Hour))
		fake.answer("AssumeRole", goodCreds(5*time.Minute))
		refused(t, "export deploy", w.cmd(fake.env(), brokerBin, "export", "deploy"), "less than 15m0s left")
		if n := w.sessionCount(); n != 1 {
			t.Errorf("%d sessions cached, want only the 8-hour MFA session", n)
		}
	})
	t.Run("15-minute durations refused before a code is asked", func(t *testing.T) {
		w := newWorld(t)
		u := w.newUser("short")
		role := w.aws.NewRole(t, "short")
		w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s
broker_session_duration = 15m

[profile base]
region = eu-west-1
mfa_serial = %[1]s
mfa_process = %[2]s

[profile deploy]
source_profile = base
role_arn = %[3]s
duration_seconds = 900
`, u.serial, w.mfaProcess("123456"), role))
		w.addKey("dev", u)
		w.addKey("base", u)
		for i := 0; i < 3; i++ {
			r := w.cmd(nil, brokerBin, "export", "dev")
			refused(t, "export dev", r, `profile "dev": broker_session_duration = 15m0s is shorter than the 30m0s broker needs`)
			if !strings.Contains(r.stderr, "hint: set broker_session_duration to 30m0s or more") {
				t.Errorf("no hint naming the minimum: %q", r.stderr)
			}
			r = w.cmd(nil, brokerBin, "export", "deploy")
			refused(t, "export deploy", r, `profile "deploy": duration_seconds = 900 is shorter`)
			if !strings.Contains(r.stderr, "hint: set duration_seconds to 1800 or more") {
				t.Errorf("no hint naming the minimum: %q", r.stderr)
			}
		}
		if n := w.mfaAsks(); n != 0 {
			t.Errorf("MFA asked %d times for durations broker cannot serve", n)
		}
		if n := len(w.calls("GetSessionToken")) + len(w.calls("AssumeRole")); n != 0 {
			t.Errorf("%d STS calls for durations broker cannot serve", n)
		}
		if out := w.mustBroker("list"); !strings.Contains(out, "duration_seconds = 900 is shorter") {
			t.Errorf("list does not show the problem:\n%s", out)
		}
	})
	t.Run("30-minute sessions are cached", func(t *testing.T) {
		w := newWorld(t)
		u := w.newUser("half")
		role := w.aws.NewRole(t, "half")
		w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s
broker_session_duration = 30m

[profile deploy]
source_profile = dev
role_arn = %s
duration_seconds = 1800
`, u.serial, w.mfaProcess("123456"), role))
		w.addKey("dev", u)
		var first exported
		for i := 0; i < 3; i++ {
			e := decodeExport(t, w.mustBroker("export", "deploy"))
			if i == 0 {
				first = e
			} else if e.AccessKeyID != first.AccessKeyID {
				t.Errorf("export %d handed out another session", i+1)
			}
			exp, _ := time.Parse(time.RFC3339, e.Expiration)
			if left := time.Until(exp); left < 15*time.Minute {
				t.Errorf("handed out a session with %v left", left)
			}
		}
		if a, g, r := w.mfaAsks(), len(w.calls("GetSessionToken")), len(w.calls("AssumeRole")); a != 1 || g != 1 || r != 1 {
			t.Errorf("three exports: %d MFA codes, %d GetSessionToken, %d AssumeRole; want 1 each", a, g, r)
		}
	})
}
