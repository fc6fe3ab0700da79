//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// otherProgram uses u's key as another program would, outside broker: the
// AWS CLI listing S3 buckets with the key in its environment.
func otherProgram(t *testing.T, w *world, u user) {
	t.Helper()
	r := w.cmd([]string{"AWS_ACCESS_KEY_ID=" + u.keyID, "AWS_SECRET_ACCESS_KEY=" + u.secret},
		"aws", "s3", "ls", "--region", "eu-central-1")
	if r.code != 0 {
		t.Fatalf("aws s3 ls with the key: exit %d: %s", r.code, r.stderr)
	}
}

// The reviewer's case: the key was stored, another program used it, and no
// MFA session is cached (the usual case). The check must see that use
// before broker's own calls hide it, or say that it cannot: rotate stops
// with nothing changed, and --force goes ahead.
func TestRotateUseCheckNoCachedSession(t *testing.T) {
	w, u := setupDev(t)
	otherProgram(t, w, u)
	before := len(w.aws.Requests(t))
	errOut := w.mustFail("nothing changed", "rotate", "--yes", "dev")
	if !strings.Contains(errOut, "hint: ") || !strings.Contains(errOut, "--force") {
		t.Errorf("the refusal has no hint naming --force: %s", errOut)
	}
	w.sameKeys("after a refused rotate", map[string]string{u.keyID: "Active"})
	for _, r := range w.aws.Requests(t)[before:] {
		if r.SigningKeyID == u.keyID {
			if r.Action != "GetAccessKeyLastUsed" {
				t.Errorf("rotate first signed %s with the key, before asking where it was last used", r.Action)
			}
			break
		}
	}
	if n := w.mfaAsks(); n != 0 {
		t.Errorf("a refused rotate asked %d MFA codes", n)
	}
	if _, errOut, code := w.broker("rotate", "--yes", "--force", "dev"); code != 0 || !strings.Contains(errOut, "inactive, not deleted") {
		t.Fatalf("rotate --force: exit %d: %s", code, errOut)
	}
}

// `broker keys` shows the keychain key's use by another program, not the
// GetCallerIdentity or GetSessionToken broker itself signs to list it.
func TestKeysShowOtherUseOfOwnKey(t *testing.T) {
	w, u := setupDev(t)
	own := func(when string) (service, unseen string) {
		t.Helper()
		var list struct {
			Keys []struct {
				ID          string `json:"access_key_id"`
				LastService string `json:"last_used_service"`
				LastRegion  string `json:"last_used_region"`
				Unseen      string `json:"last_used_unseen"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(w.mustBroker("keys", "--json", "dev")), &list); err != nil || len(list.Keys) != 1 || list.Keys[0].ID != u.keyID {
			t.Fatalf("%s: keys --json: %+v, %v", when, list, err)
		}
		k := list.Keys[0]
		if k.LastService == "sts" {
			t.Errorf("%s: the key's last use is broker's own STS call (in %s)", when, k.LastRegion)
		}
		if k.LastService == "s3" && k.LastRegion != "eu-central-1" {
			t.Errorf("%s: used with s3 in %q, want eu-central-1", when, k.LastRegion)
		}
		return k.LastService, k.Unseen
	}
	// No session cached: IAM is asked with the key itself first.
	otherProgram(t, w, u)
	if service, unseen := own("no session cached"); service != "s3" && unseen == "" {
		t.Errorf("no session cached: last use %q, neither s3 nor said to be unknown", service)
	}
	// Session cached (by the listing above): IAM is asked through it.
	otherProgram(t, w, u)
	if service, unseen := own("session cached"); service != "s3" || unseen != "" {
		t.Errorf("session cached: last use %q (%s), want s3", service, unseen)
	}
	otherProgram(t, w, u)
	if out := w.mustBroker("keys", "dev"); !strings.Contains(out, "s3") || strings.Contains(out, "sts") {
		t.Errorf("keys: the own key's use is shown as\n%s", out)
	}
}

// A key stored under two profiles ([default] and [ivan] of one credentials
// file) is replaced in both by one rotation, which says so; a profile
// storing the key left inactive stops the next rotate from deleting it,
// and keys delete refuses it without --force.
func TestRotateKeyOfTwoProfiles(t *testing.T) {
	w, u := twoHolders(t)
	stored := func() map[string]string {
		t.Helper()
		ids := map[string]string{}
		for _, r := range decodeList(w.mustBroker("list", "--json")) {
			if r.KeyID != "" {
				ids[r.Name] = r.KeyID
			}
		}
		return ids
	}
	masked := "****" + u.keyID[16:] // list shows key IDs masked
	if ids := stored(); ids["default"] != masked || ids["ivan"] != masked {
		t.Fatalf("after import: %v", ids)
	}

	w.mustBroker("export", "ivan") // an MFA session, so the use check can read IAM without the key
	_, errOut, code := w.broker("rotate", "--yes", "ivan")
	if code != 0 {
		t.Fatalf("rotate ivan: exit %d: %s", code, errOut)
	}
	ids := stored()
	if ids["ivan"] == masked || ids["default"] != ids["ivan"] {
		t.Fatalf("after rotate ivan the keychain holds %v; want the new key for both", ids)
	}
	if !strings.Contains(errOut, `Profile "default" held the same key`) {
		t.Errorf("rotate did not say it replaced default's key too:\n%s", errOut)
	}
	keys := w.aws.AccessKeys(t, "ivan")
	var newID string
	for id, s := range keys {
		if s == "Active" {
			newID = id
		}
	}
	if len(keys) != 2 || keys[u.keyID] != "Inactive" || "****"+newID[16:] != ids["ivan"] {
		t.Fatalf("after rotate: %v", keys)
	}
	if got := decodeExport(t, w.mustBroker("export", "default")); got.AccessKeyID == "" {
		t.Error("default does not work after the rotation")
	}

	// The old key stored again under another profile: the next rotate
	// would delete it to free a slot; it refuses, and nothing changes.
	r := w.cmd([]string{"AWS_ACCESS_KEY_ID=" + u.keyID, "AWS_SECRET_ACCESS_KEY=" + u.secret},
		brokerBin, "add", "--env", "--no-verify", "--mfa-serial", u.serial, "stale")
	if r.code != 0 {
		t.Fatalf("broker add stale: exit %d: %s", r.code, r.stderr)
	}
	errOut = w.mustFail(`still stored for profile "stale"`, "rotate", "--yes", "--force", "ivan")
	if !strings.Contains(errOut, "hint: ") {
		t.Errorf("no hint: %s", errOut)
	}
	if got := w.aws.AccessKeys(t, "ivan"); len(got) != 2 || got[u.keyID] != "Inactive" {
		t.Errorf("a refused rotate changed the keys: %v", got)
	}
	w.mustFail(`the keychain holds it for profile "stale"`, "keys", "delete", "--yes", "ivan", u.keyID)
	if _, ok := w.aws.AccessKeys(t, "ivan")[u.keyID]; !ok {
		t.Error("keys delete deleted a key another profile stores")
	}

	// revoke names the other profile that still holds the revoked key.
	w.mustBroker("remove", "--yes", "stale")
	_, errOut, code = w.broker("revoke", "--yes", "ivan")
	if code != 0 {
		t.Fatalf("revoke ivan: exit %d: %s", code, errOut)
	}
	after := stored()
	if after["default"] != after["ivan"] || !strings.Contains(errOut, `Profile "default" held the same key`) {
		t.Errorf("revoke left %v:\n%s", after, errOut)
	}
	if names := slices.Sorted(func(yield func(string) bool) {
		for n := range after {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(names, []string{"default", "ivan"}) {
		t.Errorf("profiles with keys after revoke: %v", names)
	}
}

// revoke --sessions says what it did to the sessions already issued; plain
// revoke says they stay valid and how to deny them.
func TestRevokeSessionsWording(t *testing.T) {
	w, u := setupDev(t)
	w.mustBroker("export", "dev")
	_, errOut, code := w.broker("revoke", "--yes", "--sessions", "dev")
	if code != 0 {
		t.Fatalf("revoke --sessions: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "every session issued to the user before") || !strings.Contains(errOut, "are denied by the policy BrokerRevokeOlderSessions") {
		t.Errorf("revoke --sessions does not say the issued sessions are denied:\n%s", errOut)
	}
	if strings.Contains(errOut, "stay valid") {
		t.Errorf("revoke --sessions says sessions stay valid:\n%s", errOut)
	}
	if keys := w.aws.AccessKeys(t, "alice"); keys[u.keyID] != "Inactive" {
		t.Errorf("the key is %q", keys[u.keyID])
	}
	_, errOut, code = w.broker("revoke", "--yes", "dev")
	if code != 0 || !strings.Contains(errOut, "stay valid until they expire") || !strings.Contains(errOut, "broker revoke --sessions dev") {
		t.Errorf("plain revoke: exit %d:\n%s", code, errOut)
	}
}

// twoHolders is a world whose user ivan's one key is stored under two
// profiles, [default] and ivan, imported from one credentials file.
func twoHolders(t *testing.T) (*world, user) {
	t.Helper()
	w := newWorld(t)
	u := w.newUser("ivan")
	w.writeConfig(fmt.Sprintf("[default]\nregion = eu-west-1\nmfa_serial = %s\nmfa_process = %s\n\n[profile ivan]\nregion = eu-west-1\nmfa_serial = %s\nmfa_process = %s\n",
		u.serial, w.mfaProcess("123456"), u.serial, w.mfaProcess("123456")))
	keyLines := "aws_access_key_id = " + u.keyID + "\naws_secret_access_key = " + u.secret + "\n"
	credentialsFile(t, w, "[default]\n"+keyLines+"\n[ivan]\n"+keyLines)
	if r := w.cmd(nil, brokerBin, "import", "--yes"); r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	return w, u
}
