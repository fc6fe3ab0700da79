//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestAddHintsWork: the commands `broker add` advises when it could not
// set the profile's MFA device work as written, and set only mfa_serial:
// the stored key is never replaced without --force.
func TestAddHintsWork(t *testing.T) {
	w := newWorld(t)
	bob := w.newUser("bobp")
	second := w.aws.NewNamedMFADevice(t, "bobp", "bobp-backup")
	w.writeConfig("[profile bobp]\nregion = eu-west-1\nmfa_process = " + w.mfaProcess("123456") + "\n")
	r := w.cmd(addEnv(bob), brokerBin, "add", "--env", "bobp")
	if r.code != 0 {
		t.Fatalf("add: exit %d: %s", r.code, r.stderr)
	}
	const hint = "run `broker add bobp --mfa-serial ARN` with one of them"
	if !strings.Contains(r.stderr, "several MFA devices and no terminal") || !strings.Contains(r.stderr, hint) {
		t.Fatalf("add with two devices and no terminal says:\n%s", r.stderr)
	}
	masked := storedKeyID(t, w, "bobp")

	// As the hint says: no key typed, none asked for.
	r = w.cmd(nil, brokerBin, "add", "bobp", "--mfa-serial", second)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "Set mfa_serial = "+second) {
		t.Fatalf("the hint's command: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	cfg, _ := os.ReadFile(w.config)
	if !strings.Contains(string(cfg), "mfa_serial = "+second+"\n") || storedKeyID(t, w, "bobp") != masked {
		t.Errorf("after the hint's command: key %s (was %s), config:\n%s", storedKeyID(t, w, "bobp"), masked, cfg)
	}
	w.mustBroker("export", "bobp")
	if gst := w.calls("GetSessionToken"); len(gst) != 1 || gst[0].Params["SerialNumber"] != second || gst[0].SigningKeyID != bob.keyID {
		t.Errorf("GetSessionToken calls %+v, want one with %s signed by the stored key", gst, second)
	}

	// Again, with the same key: nothing to do, and it says so.
	r = w.cmd(addEnv(bob), brokerBin, "add", "--env", "bobp", "--mfa-serial", second)
	if r.code != 0 || !strings.Contains(r.stderr, "has mfa_serial = "+second+" already") {
		t.Errorf("add --env with the stored key and its device: exit %d: %s", r.code, r.stderr)
	}
	// Another device than the profile's: refused, nothing changed.
	r = w.cmd(nil, brokerBin, "add", "bobp", "--mfa-serial", bob.serial)
	assertFailure(t, r, "has mfa_serial = "+second+" already; nothing was changed")
	// Another key: that would replace the stored one, which takes --force.
	carol := w.newUser("carol")
	r = w.cmd(addEnv(carol), brokerBin, "add", "--env", "bobp", "--mfa-serial", carol.serial)
	assertFailure(t, r, "has a key stored already")
	if after, _ := os.ReadFile(w.config); string(after) != string(cfg) || storedKeyID(t, w, "bobp") != masked {
		t.Errorf("a refused add changed something: key %s, config:\n%s", storedKeyID(t, w, "bobp"), after)
	}

	// A user with no device yet: the hint's command works once there is one.
	id, secret := w.aws.NewUserKey(t, "dave")
	w.writeConfig("[profile dev]\nregion = eu-west-1\n")
	r = w.cmd([]string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret}, brokerBin, "add", "--env", "dev")
	const again = "run `broker add dev --mfa-serial ARN` with its ARN"
	if r.code != 0 || !strings.Contains(r.stderr, "has no MFA device") || !strings.Contains(r.stderr, again) {
		t.Fatalf("add for a user without a device: exit %d:\n%s", r.code, r.stderr)
	}
	serial := w.aws.NewMFADevice(t, "dave")
	r = w.cmd(nil, brokerBin, "add", "dev", "--mfa-serial", serial)
	if cfg, _ := os.ReadFile(w.config); r.code != 0 || !strings.Contains(string(cfg), "mfa_serial = "+serial) {
		t.Errorf("add dev --mfa-serial after the device was made: exit %d: %s\nconfig:\n%s", r.code, r.stderr, cfg)
	}
}

// TestListEffectiveMFA: list shows the mfa_serial export uses, also when it
// comes from [default] or a source profile, and says from where.
func TestListEffectiveMFA(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig(fmt.Sprintf("[default]\nmfa_serial = %s\n[profile dev]\nregion = eu-west-1\n"+
		"[profile own]\nmfa_serial = %s\n[profile role]\nsource_profile = own\nrole_arn = arn:aws:iam::123456789012:role/r\n",
		u.serial, u.serial))
	w.addKey("dev", u)
	w.addKey("own", u)
	var rows []struct {
		Name string `json:"name"`
		MFA  string `json:"mfa_serial"`
		From string `json:"mfa_serial_from"`
	}
	if err := json.Unmarshal([]byte(w.mustBroker("list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"dev": "default", "own": "own", "role": "own"}
	for _, r := range rows {
		if from, ok := want[r.Name]; ok && (r.MFA != u.serial || r.From != from) {
			t.Errorf("list --json: %s has mfa_serial %q from %q, want %s from %s", r.Name, r.MFA, r.From, u.serial, from)
		}
	}
	table := w.mustBroker("list")
	for _, want := range []string{"yes (from default)", "yes (from own)"} {
		if !strings.Contains(table, want) {
			t.Errorf("list shows no %q:\n%s", want, table)
		}
	}
}

// TestCommandLineRoughEdges: typos of subcommands, help for one, `--`
// too early, and a flag that does nothing without another.
func TestCommandLineRoughEdges(t *testing.T) {
	w, _ := setupDev(t)
	before := len(w.aws.Requests(t))
	usageFailure(t, w, "unknown command 'keys actvate'; did you mean 'keys activate'?", "keys", "actvate", "dave", "AKIA0TESTTESTTESTTES")
	usageFailure(t, w, "unknown command 'keys actvate'; did you mean 'keys activate'?", "help", "keys", "actvate")
	usageFailure(t, w, "unknown command 'keys actvate'; did you mean 'keys activate'?", "keys", "actvate")
	usageFailure(t, w, "--unused-days goes with --all", "keys", "dev", "--unused-days", "5")
	_, errOut, code := w.broker("exec", "--", "dev", "echo")
	if code != 2 || !strings.HasPrefix(errOut, "broker: exec needs PROFILE before --\n") {
		t.Errorf("exec -- dev echo: exit %d, %q", code, errOut)
	}
	if n := len(w.aws.Requests(t)) - before; n != 0 {
		t.Errorf("refused command lines made %d AWS calls", n)
	}
}

// TestAccountKeysInKeychain: `keys --all --json` marks every key the
// keychain holds, also those stored for other profiles.
func TestAccountKeysInKeychain(t *testing.T) {
	w, alice := setupDev(t)
	bob := w.newUser("bob")
	w.addKey("other", bob)
	id, _ := w.aws.NewUserKey(t, "carol")
	out, errOut, code := w.broker("keys", "dev", "--all", "--json")
	if code != 0 && code != 1 { // 1: a key is flagged (carol's is unused)
		t.Fatalf("keys --all: exit %d: %s", code, errOut)
	}
	var list struct {
		Keys []struct {
			ID         string `json:"access_key_id"`
			InKeychain bool   `json:"in_keychain"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{alice.keyID: true, bob.keyID: true, id: false}
	for _, k := range list.Keys {
		if held, ok := want[k.ID]; ok {
			delete(want, k.ID)
			if k.InKeychain != held {
				t.Errorf("key of %s: in_keychain %v, want %v", k.ID[:4], k.InKeychain, held)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("keys --all lists not every key: %s", out)
	}
}

// TestParentProfile: aws-vault 5's parent_profile is refused with its new
// name, by every command and in list.
func TestParentProfile(t *testing.T) {
	w, u := setupDev(t)
	w.writeConfig(fmt.Sprintf("[profile shared]\nmfa_serial = %s\n[profile dev]\nparent_profile = shared\n", u.serial))
	r := w.cmd(nil, brokerBin, "export", "dev")
	assertFailure(t, r, `profile "dev" sets parent_profile, aws-vault 5's name for include_profile, which broker does not read: rename it include_profile`)
	if out := w.mustBroker("list"); !strings.Contains(out, "rename it include_profile") || strings.Contains(out, "unknown config keys") {
		t.Errorf("list:\n%s", out)
	}
	w.writeConfig(fmt.Sprintf("[profile shared]\nmfa_serial = %s\nmfa_process = %s\n[profile dev]\ninclude_profile = shared\n", u.serial, w.mfaProcess("123456")))
	w.mustBroker("export", "dev")
}
