//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestAddOffersMFADevice(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("carol")
	w.writeConfig("# mine\n[profile fresh]\nregion = us-west-2\n\n[profile other]\nregion = eu-north-1\n")
	w.addKey("fresh", u)
	b, _ := os.ReadFile(w.config)
	want := "# mine\n[profile fresh]\nregion = us-west-2\nmfa_serial = " + u.serial + "\n\n[profile other]\nregion = eu-north-1\n"
	if string(b) != want {
		t.Errorf("config after add:\n%s\nwant:\n%s", b, want)
	}
	rows := decodeList(w.mustBroker("list", "--json"))
	found := false
	for _, r := range rows {
		if r.Name == "fresh" {
			found = true
			if r.KeyID != "****"+u.keyID[16:] {
				t.Errorf("list shows key %q, want it masked", r.KeyID)
			}
		}
	}
	if !found {
		t.Fatal("list does not show profile fresh")
	}
	if out := w.mustBroker("list"); strings.Contains(out, u.keyID) || strings.Contains(out, u.secret) {
		t.Error("list shows the key ID or secret in full")
	}
}

func TestListClearRemove(t *testing.T) {
	w, u := setupDev(t)
	w.mustBroker("export", "dev")
	rows := decodeList(w.mustBroker("list", "--json"))
	if s := sessionsOf(rows, "dev"); s != 1 {
		t.Fatalf("list shows %d sessions for dev after export, want 1", s)
	}
	if out := w.mustBroker("list"); !strings.Contains(out, "left") {
		t.Errorf("list shows no time left:\n%s", out)
	}
	w.mustBroker("clear", "dev")
	if s := sessionsOf(decodeList(w.mustBroker("list", "--json")), "dev"); s != 0 {
		t.Errorf("%d sessions left after clear dev", s)
	}
	w.mustBroker("export", "dev")
	if n := len(w.calls("GetSessionToken")); n != 2 {
		t.Errorf("%d GetSessionToken calls after clear and export, want 2", n)
	}
	_, stderr, code := w.broker("remove", "--yes", "dev")
	if code != 0 || !strings.Contains(stderr, "1 cached session") {
		t.Fatalf("remove: exit %d, %q", code, stderr)
	}
	r := w.cmd(nil, brokerBin, "export", "dev")
	assertFailure(t, r, "no access key stored")
	if !strings.Contains(r.stderr, "hint: store one with: broker add dev") {
		t.Errorf("no hint: %q", r.stderr)
	}
	for _, row := range decodeList(w.mustBroker("list", "--json")) {
		if row.KeyID != "" || len(row.Sessions) != 0 {
			t.Errorf("after remove, list still shows %+v", row)
		}
	}
	_ = u
}

func sessionsOf(rows []listRow, name string) int {
	for _, r := range rows {
		if r.Name == name {
			return len(r.Sessions)
		}
	}
	return 0
}

func TestNoMFAOptOut(t *testing.T) {
	w := newWorld(t)
	id, secret := w.aws.NewUserKey(t, "robot")
	w.writeConfig("[profile robot]\nregion = eu-west-1\nbroker_no_mfa = true\n")
	w.addKey("robot", user{keyID: id, secret: secret})
	w.mustBroker("export", "robot")
	calls := w.calls("GetSessionToken")
	if len(calls) != 1 || calls[0].Params["SerialNumber"] != "" || calls[0].Params["TokenCode"] != "" {
		t.Fatalf("opted-out profile: %d GetSessionToken calls, params %v", len(calls), calls)
	}
	if out := w.mustBroker("list"); !strings.Contains(out, "OPTED OUT") {
		t.Errorf("list does not flag the opt-out:\n%s", out)
	}
	for _, r := range decodeList(w.mustBroker("list", "--json")) {
		if r.Name == "robot" && !r.NoMFA {
			t.Error("list --json does not flag the opt-out")
		}
	}
}

// The cache key covers the config: a change never serves the old session.
func TestCacheFollowsConfig(t *testing.T) {
	w, u := setupDev(t)
	w.mustBroker("export", "dev")
	w.mustBroker("export", "dev")
	if n := len(w.calls("GetSessionToken")); n != 1 {
		t.Fatalf("%d GetSessionToken calls for two exports, want 1", n)
	}
	base, _ := os.ReadFile(w.config)
	w.writeConfig(strings.Replace(string(base), "region = eu-west-1\n", "region = eu-west-1\nbroker_session_duration = 2h\n", 1))
	w.mustBroker("export", "dev")
	calls := w.calls("GetSessionToken")
	if len(calls) != 2 || calls[1].Params["DurationSeconds"] != "7200" {
		t.Fatalf("after changing the session duration: %d calls, last %v", len(calls), calls[len(calls)-1].Params)
	}
	// A session too short to be served from the cache is refused, not
	// minted on every call (TestShortSessions).
	w.writeConfig(strings.Replace(string(base), "region = eu-west-1\n", "region = eu-west-1\nbroker_session_duration = 900\n", 1))
	if _, errOut, code := w.broker("export", "dev"); code == 0 || !strings.Contains(errOut, "broker_session_duration = 15m0s is shorter") {
		t.Errorf("a 15-minute session duration: exit %d, %q", code, errOut)
	}
	if n := len(w.calls("GetSessionToken")); n != 2 {
		t.Errorf("%d GetSessionToken calls, want no new one", n)
	}
	_ = u
}

// A role asking for more than the 1-hour chaining limit is assumed straight
// from the long-term key, with MFA.
func TestLongRoleAssumedFromKey(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("dave")
	role := w.aws.NewRole(t, "long")
	w.writeConfig(fmt.Sprintf("[profile base]\nmfa_serial = %s\nmfa_process = %s\n\n[profile long]\nsource_profile = base\nrole_arn = %s\nduration_seconds = 7200\n",
		u.serial, w.mfaProcess("111222"), role))
	w.addKey("base", u)
	w.mustBroker("export", "long")
	w.mustBroker("export", "long")
	ar := w.calls("AssumeRole")
	if n := len(w.calls("GetSessionToken")); n != 0 || len(ar) != 1 {
		t.Fatalf("%d GetSessionToken and %d AssumeRole calls, want 0 and 1", n, len(ar))
	}
	p := ar[0].Params
	if ar[0].SigningKeyID != u.keyID || ar[0].SecurityToken || p["SerialNumber"] != u.serial || p["TokenCode"] != "111222" || p["DurationSeconds"] != "7200" {
		t.Errorf("AssumeRole signed by %s (token %v) with %v", ar[0].SigningKeyID, ar[0].SecurityToken, p)
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA asked %d times, want 1", n)
	}
}
