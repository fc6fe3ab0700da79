//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/broker-dev/broker/vault"
)

// The MFA code sources beyond mfa_process: a YubiKey through ykman and a
// dialog, each played by a fake program first on PATH, and the keychain's
// memory of the last code used.

// fakeProgram writes a program name into a folder of fakes that appends its
// arguments to NAME.args and prints the next of codes on each run,
// repeating the last. It returns the environment that puts it on PATH.
func fakeProgram(w *world, name string, codes ...string) (dir string, env []string) {
	w.t.Helper()
	dir = filepath.Join(w.root, "fakes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".codes"), []byte(strings.Join(codes, "\n")+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
d='%s'
printf '%%s ' "$@" >> "$d/%[2]s.args"; echo >> "$d/%[2]s.args"
n=$(( $(cat "$d/%[2]s.n" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$d/%[2]s.n"
line=$(sed -n "${n}p" "$d/%[2]s.codes")
[ -n "$line" ] || line=$(tail -n 1 "$d/%[2]s.codes")
echo "$line"
`, dir, name)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o700); err != nil {
		w.t.Fatal(err)
	}
	return dir, []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// fakeRuns is the argument lines of each run of the fake name.
func fakeRuns(dir, name string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".args"))
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// forgetUsedCodes removes what broker keeps about u's device in the
// world's keychain namespace, which `broker clear` leaves.
func forgetUsedCodes(w *world, u user) {
	w.t.Cleanup(func() {
		var o vault.Options
		for _, kv := range w.env {
			if s, ok := strings.CutPrefix(kv, "BROKER_KEYRING_SERVICE="); ok {
				o.Service = s
			}
		}
		o.Backend = w.backend
		v, err := vault.Open(o)
		if err == nil {
			err = v.RemoveMFACode(u.serial)
		}
		if err != nil {
			w.t.Errorf("forgetting the used MFA code: %v", err)
		}
	})
}

func mfaWorld(t *testing.T, profileKeys string) (*world, user) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig(fmt.Sprintf("[profile dev]\nregion = eu-west-1\nmfa_serial = %s\n%s", u.serial, profileKeys))
	w.addKey("dev", u)
	forgetUsedCodes(w, u)
	return w, u
}

func TestYubiKeyCode(t *testing.T) {
	w, u := mfaWorld(t, "broker_yubikey_oath = aws:alice@example\n")
	dir, env := fakeProgram(w, "ykman", "314159")
	r := w.cmd(env, brokerBin, "export", "dev")
	if r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	decodeExport(t, r.stdout)
	calls := w.calls("GetSessionToken")
	if len(calls) != 1 || calls[0].Params["SerialNumber"] != u.serial || calls[0].Params["TokenCode"] != "314159" {
		t.Fatalf("GetSessionToken calls: %v; want one with ykman's code", calls)
	}
	if runs := fakeRuns(dir, "ykman"); len(runs) != 1 || runs[0] != "oath accounts code --single -- aws:alice@example " {
		t.Errorf("ykman ran with %q", runs)
	}
	// No terminal: the notice goes to stderr.
	if !strings.Contains(r.stderr, "from your YubiKey (OATH account aws:alice@example): touch it") {
		t.Errorf("stderr %q has no touch notice", r.stderr)
	}
}

func TestDialogCode(t *testing.T) {
	w, _ := mfaWorld(t, "broker_mfa_prompt = zenity\n")
	dir, env := fakeProgram(w, "zenity", "271828", "161803")
	if r := w.cmd(env, brokerBin, "export", "dev"); r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	runs := fakeRuns(dir, "zenity")
	if len(runs) != 1 || !strings.Contains(runs[0], "--title=broker --text=MFA code for arn:aws:iam::") || !strings.Contains(runs[0], "(profile dev):") {
		t.Errorf("zenity ran with %q", runs)
	}
	// BROKER_MFA_PROMPT wins over the profile: kdialog is not there.
	w.mustBroker("clear")
	r := w.cmd(append(env, "BROKER_MFA_PROMPT=kdialog"), brokerBin, "export", "dev")
	if r.code == 0 || !strings.Contains(r.stderr, "BROKER_MFA_PROMPT asks for kdialog, which is not installed") {
		t.Errorf("BROKER_MFA_PROMPT=kdialog: exit %d, stderr %q", r.code, r.stderr)
	}
	codes := []string{}
	for _, c := range w.calls("GetSessionToken") {
		codes = append(codes, c.Params["TokenCode"])
	}
	if strings.Join(codes, " ") != "271828" {
		t.Errorf("STS got codes %q; want the dialog's, once", codes)
	}
}

// Two MFA sessions in quick succession: the dialog gives the code just used
// again, broker says so and asks for the next one.
func TestUsedCodeAskedAgain(t *testing.T) {
	w, _ := mfaWorld(t, "broker_mfa_prompt = zenity\n")
	dir, env := fakeProgram(w, "zenity", "111111", "111111", "222222")
	if r := w.cmd(env, brokerBin, "export", "dev"); r.code != 0 {
		t.Fatalf("first export: exit %d: %s", r.code, r.stderr)
	}
	w.mustBroker("clear")
	if r := w.cmd(env, brokerBin, "export", "dev"); r.code != 0 {
		t.Fatalf("second export: exit %d: %s", r.code, r.stderr)
	}
	var codes []string
	for _, c := range w.calls("GetSessionToken") {
		codes = append(codes, c.Params["TokenCode"])
	}
	if strings.Join(codes, " ") != "111111 222222" {
		t.Errorf("STS got codes %q; want two different ones", codes)
	}
	runs := fakeRuns(dir, "zenity")
	if len(runs) != 3 || !strings.Contains(runs[2], "--text=That code was just used; wait for the next one.") {
		t.Errorf("zenity ran with %q; want a third question saying why", runs)
	}
}
