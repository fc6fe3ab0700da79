//go:build linux

package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// keysJSON is the part of `broker keys --json` the tests read.
type keysJSON struct {
	User       string `json:"user"`
	MaxAgeDays int    `json:"max_age_days"`
	Keys       []struct {
		ID          string     `json:"access_key_id"`
		Status      string     `json:"status"`
		Created     time.Time  `json:"created"`
		AgeDays     *int       `json:"age_days"`
		LastUsed    *time.Time `json:"last_used"`
		LastService string     `json:"last_used_service"`
		LastRegion  string     `json:"last_used_region"`
		InKeychain  bool       `json:"in_keychain"`
		OverMaxAge  *bool      `json:"over_max_age"`
	} `json:"keys"`
}

// mustFail runs broker, expects the failure shape (one broker: line, maybe a
// hint, nothing on stdout, non-zero exit) and a message, and returns stderr.
func (w *world) mustFail(message string, args ...string) string {
	w.t.Helper()
	out, errOut, code := w.broker(args...)
	if code == 0 || out != "" || !strings.HasPrefix(errOut, "broker: ") || !strings.Contains(errOut, message) {
		w.t.Errorf("broker %s: exit %d, stdout %q, stderr %q; want a failure naming %q", strings.Join(args, " "), code, out, errOut, message)
	}
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if !strings.HasPrefix(line, "broker: ") && !strings.HasPrefix(line, "hint: ") {
			w.t.Errorf("broker %s: stray stderr line %q", strings.Join(args, " "), line)
		}
	}
	return errOut
}

// sameKeys fails unless moto holds exactly want for alice.
func (w *world) sameKeys(when string, want map[string]string) {
	w.t.Helper()
	got := w.aws.AccessKeys(w.t, "alice")
	if len(got) != len(want) {
		w.t.Errorf("%s: keys %v, want %v", when, got, want)
	}
	for id, s := range want {
		if got[id] != s {
			w.t.Errorf("%s: key %s is %q, want %q", when, id, got[id], s)
		}
	}
}

// Acceptance 1: keys lists both keys with status, age and last use;
// activate, deactivate and delete change moto's state, and refuse to delete
// an active key or touch the keychain's own key without --force.
func TestKeysCommand(t *testing.T) {
	w, u := setupDev(t)
	other, _ := w.aws.NewUserKey(t, "alice")

	// No MFA session is cached yet: where the keychain's key was used
	// before this command cannot be read without hiding it (usecheck.go).
	out := w.mustBroker("keys", "dev")
	for _, want := range []string{u.keyID, other, "Active", "0d", "unknown", "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys output lacks %q:\n%s", want, out)
		}
	}
	var list keysJSON
	if err := json.Unmarshal([]byte(w.mustBroker("keys", "--json", "dev")), &list); err != nil {
		t.Fatal(err)
	}
	if list.User != "alice" || list.MaxAgeDays != 90 || len(list.Keys) != 2 {
		t.Fatalf("keys --json: %+v", list)
	}
	for _, k := range list.Keys {
		if k.Status != "Active" || k.Created.IsZero() || k.AgeDays == nil || *k.AgeDays != 0 || k.OverMaxAge == nil || *k.OverMaxAge {
			t.Errorf("key %s: status %q, created %v, age %v", k.ID, k.Status, k.Created, k.AgeDays)
		}
		if stored := k.ID == u.keyID; k.InKeychain != stored || (k.LastUsed != nil) != stored ||
			(stored && (k.LastService != "sts" || k.LastRegion == "")) {
			t.Errorf("key %s: in keychain %v, last used %v with %q in %q", k.ID, k.InKeychain, k.LastUsed, k.LastService, k.LastRegion)
		}
	}
	// [default]'s broker_key_max_age is the base of dev's.
	w.writeConfig(readText(t, w.config) + "\n[default]\nbroker_key_max_age = 45\n")
	if err := json.Unmarshal([]byte(w.mustBroker("keys", "--json", "dev")), &list); err != nil || list.MaxAgeDays != 45 {
		t.Errorf("keys --json with [default]'s broker_key_max_age = 45: max age %d (%v)", list.MaxAgeDays, err)
	}
	// --max-age 0 is not a number of days; nothing is called.
	before := len(w.aws.Requests(t))
	w.mustFail("--max-age", "keys", "--max-age", "0", "dev")
	w.mustFail("malformed access key ID", "keys", "deactivate", "--yes", "dev", "AKIA123")
	w.mustFail("temporary", "keys", "delete", "--yes", "dev", "ASIAIOSFODNN7EXAMPLE")
	w.mustFail("confirmation", "keys", "deactivate", "dev", other)
	if n := len(w.aws.Requests(t)); n != before {
		t.Errorf("refused input made %d AWS calls", n-before)
	}

	both := map[string]string{u.keyID: "Active", other: "Active"}
	w.mustFail("only an inactive key can be deleted", "keys", "delete", "--yes", "dev", other)
	w.mustFail("keychain holds", "keys", "deactivate", "--yes", "dev", u.keyID)
	w.mustFail("no IAM user of this account has", "keys", "activate", "dev", "AKIA0000000000000000")
	w.sameKeys("after refusals", both)

	w.mustBroker("keys", "deactivate", "--yes", "dev", other)
	w.sameKeys("after deactivate", map[string]string{u.keyID: "Active", other: "Inactive"})
	w.mustBroker("keys", "activate", "dev", other)
	w.sameKeys("after activate", both)
	w.mustBroker("keys", "deactivate", "--yes", "dev", other)
	w.mustBroker("keys", "delete", "--yes", "dev", other)
	w.sameKeys("after delete", map[string]string{u.keyID: "Active"})
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("%d MFA codes asked, want 1 (the session is cached)", n)
	}
	for _, r := range w.calls("UpdateAccessKey") {
		if !r.SecurityToken || r.Params["UserName"] != "alice" {
			t.Errorf("UpdateAccessKey not signed by the MFA session or without UserName: %v", r.Params)
		}
	}
}

// Acceptance 2: rotate leaves exactly one active key, the new one, in the
// keychain and minting sessions, and the old one inactive; the old secret is
// nowhere in files; one MFA code. With two active keys it refuses and
// nothing changes.
func TestRotateCommand(t *testing.T) {
	w, u := setupDev(t)
	w.mustFail("confirmation", "rotate", "dev")
	w.sameKeys("after an unconfirmed rotate", map[string]string{u.keyID: "Active"})
	// An MFA session cached, as by using the profile: the use check reads
	// IAM through it (without one it cannot see the key's earlier use).
	w.mustBroker("export", "dev")

	out, errOut, code := w.broker("rotate", "--yes", "dev")
	if code != 0 || out != "" {
		t.Fatalf("rotate: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	keys := w.aws.AccessKeys(t, "alice")
	var newID string
	for id, s := range keys {
		if s == "Active" {
			newID = id
		}
	}
	if len(keys) != 2 || newID == "" || newID == u.keyID || keys[u.keyID] != "Inactive" {
		t.Fatalf("after rotate moto holds %v, want one new active key and the old one inactive", keys)
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("rotate asked %d MFA codes, want 1", n)
	}
	if !strings.Contains(errOut, "****"+newID[16:]) || strings.Contains(errOut, u.secret) {
		t.Errorf("rotate's report: %s", errOut)
	}
	create := w.calls("CreateAccessKey")
	if len(create) != 1 || !create[0].SecurityToken || create[0].Params["UserName"] != "alice" {
		t.Errorf("CreateAccessKey calls: %+v", create)
	}
	// The keychain holds the new key: sessions are minted with it.
	decodeExport(t, w.mustBroker("export", "dev"))
	gst := w.calls("GetSessionToken")
	if last := gst[len(gst)-1]; last.SigningKeyID != newID {
		t.Errorf("the session after rotate was signed by %s, want the new key %s", last.SigningKeyID, newID)
	}
	w.scanForSecrets(u.secret)

	// Two active keys: refused with an explanation, nothing changes.
	w.mustBroker("keys", "activate", "dev", u.keyID)
	third := u.keyID
	before := map[string]string{newID: "Active", third: "Active"}
	errOut = w.mustFail("already has 2 access keys", "rotate", "--yes", "--delete-inactive", "dev")
	if !strings.Contains(errOut, "hint: ") || !strings.Contains(errOut, "active and not broker's") {
		t.Errorf("refusal without a hint naming the key to remove: %s", errOut)
	}
	w.sameKeys("after a refused rotate", before)
	if n := len(w.calls("CreateAccessKey")); n != 1 {
		t.Errorf("a refused rotate called CreateAccessKey")
	}
	if got := decodeExport(t, w.mustBroker("export", "dev")); got.AccessKeyID == "" {
		t.Error("the profile stopped working after a refused rotate")
	}
}

// Acceptance 4: revoke makes the key inactive, no cached session from it is
// handed out afterwards, and the output names the next steps.
func TestRevokeCommand(t *testing.T) {
	w, u := setupDev(t)
	w.mustBroker("export", "dev") // a cached session from the key
	sessions := len(w.calls("GetSessionToken"))

	out, errOut, code := w.broker("revoke", "--yes", "dev")
	if code != 0 || out != "" {
		t.Fatalf("revoke: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	keys := w.aws.AccessKeys(t, "alice")
	if keys[u.keyID] != "Inactive" || len(keys) != 2 {
		t.Fatalf("after revoke moto holds %v, want the key inactive and a replacement", keys)
	}
	for _, want := range []string{"stay valid until", "expires at", "broker keys delete dev " + u.keyID,
		"aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + u.keyID + " --start-time "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("revoke's output lacks %q:\n%s", want, errOut)
		}
	}
	// No cached session of the revoked key is handed out: export mints anew,
	// with the replacement.
	decodeExport(t, w.mustBroker("export", "dev"))
	gst := w.calls("GetSessionToken")
	if len(gst) != sessions+1 || gst[len(gst)-1].SigningKeyID == u.keyID {
		t.Errorf("after revoke export made %d new sessions, the last signed by %s", len(gst)-sessions, gst[len(gst)-1].SigningKeyID)
	}
	var replacement string
	for id, s := range keys {
		if s == "Active" {
			replacement = id
		}
	}

	// The replacement now fills the second slot: revoking it cannot replace it.
	out, errOut, code = w.broker("revoke", "--yes", "dev")
	if code != 0 || out != "" {
		t.Fatalf("second revoke: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	if got := w.aws.AccessKeys(t, "alice"); got[replacement] != "Inactive" {
		t.Errorf("after the second revoke the replacement is %q", got[replacement])
	}
	for _, want := range []string{"NO working key", "broker add dev", "AttributeValue=" + replacement} {
		if !strings.Contains(errOut, want) {
			t.Errorf("second revoke's output lacks %q:\n%s", want, errOut)
		}
	}
	n := len(w.calls("GetSessionToken"))
	w.broker("export", "dev") // moto does not reject inactive keys; broker must not serve the cache
	if len(w.calls("GetSessionToken")) != n+1 {
		t.Error("export served a cached session of the revoked key")
	}
	w.scanForSecrets(u.secret)
}
