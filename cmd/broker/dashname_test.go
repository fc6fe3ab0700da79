//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
)

// TestDashProfileNames: a profile name starting with '-' is refused where a
// profile is named for writing, and broker-credential-process reads its
// argument as a profile whatever it looks like: `--help` is never help on
// stdout, which the AWS CLI would read as credentials.
func TestDashProfileNames(t *testing.T) {
	w := newWorld(t)
	const config = "[profile dev]\nregion = eu-west-1\n"
	w.writeConfig(config)
	for _, args := range [][]string{
		{"setup", "--", "-x"},
		{"setup", "--", "--help"},
		{"add", "--env", "--", "-x"},
	} {
		r := w.cmd([]string{"AWS_ACCESS_KEY_ID=AKIA0DASHNAME0000000", "AWS_SECRET_ACCESS_KEY=" + strings.Repeat("s", 40)}, brokerBin, args...)
		refused(t, "broker "+strings.Join(args, " "), r, "must not start with '-'")
		if b, _ := os.ReadFile(w.config); string(b) != config {
			t.Errorf("broker %s changed the config:\n%s", strings.Join(args, " "), b)
		}
	}
	for _, name := range []string{"--help", "-x", "-h", "--version"} {
		for _, agent := range []string{"BROKER_AGENT=off", "BROKER_AGENT=on"} {
			r := w.cmd([]string{agent}, clientBin, name)
			if r.code == 0 || r.stdout != "" {
				t.Errorf("broker-credential-process %s (%s): exit %d, stdout %q; want a failure with nothing on stdout", name, agent, r.code, r.stdout)
			}
			if !strings.Contains(r.stderr, `profile "`+name+`"`) || strings.Contains(r.stderr, "flag") {
				t.Errorf("broker-credential-process %s (%s): stderr %q; want it read as a profile", name, agent, r.stderr)
			}
		}
	}
	r := w.cmd(nil, clientBin)
	if r.code == 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "broker: ") {
		t.Errorf("broker-credential-process without a profile: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestAddEnvSwapped: `broker add --env` with the key ID and the secret
// swapped says so on a hint line, and stores nothing.
func TestAddEnvSwapped(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("swapped")
	r := w.cmd([]string{"AWS_ACCESS_KEY_ID=" + u.secret, "AWS_SECRET_ACCESS_KEY=" + u.keyID}, brokerBin, "add", "--env", "dev")
	refused(t, "add --env, swapped", r, "malformed access key ID")
	if !strings.Contains(r.stderr, "\nhint: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY look swapped") {
		t.Errorf("no hint saying they look swapped: %q", r.stderr)
	}
	if strings.Contains(r.stderr, u.secret) {
		t.Error("stderr holds the secret")
	}
	if names := profilesWithKeys(w.mustBroker("list", "--json")); len(names) != 0 {
		t.Errorf("keys stored for %v", names)
	}
}
