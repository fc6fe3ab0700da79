//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A failing command prints one "broker: ..." line (and maybe a hint) on
// stderr, nothing on stdout, exits non-zero and changes nothing stored.

type failure struct {
	name    string
	args    []string
	env     []string
	config  string // replaces the config before the command ("" keeps it)
	message string // must appear on the broker: line
}

func TestErrors(t *testing.T) {
	w, u := setupDev(t)
	// A user without an MFA device, its key stored for profile lonely.
	lonelyID, lonelySecret := w.aws.NewUserKey(t, "lonely")
	if r := w.cmd([]string{"AWS_ACCESS_KEY_ID=" + lonelyID, "AWS_SECRET_ACCESS_KEY=" + lonelySecret}, brokerBin, "add", "--env", "lonely"); r.code != 0 {
		t.Fatalf("add lonely: %s", r.stderr)
	}
	// cold shares dev's key and MFA device but not its cached session.
	base, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	good := append(base, "\n[profile cold]\nsource_profile = dev\nbroker_session_duration = 2h\n"...)
	w.writeConfig(string(good))
	// A closed loopback port: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	cases := []failure{
		{name: "unknown profile", args: []string{"export", "nope"}, message: `profile "nope"`},
		{name: "malformed config", args: []string{"export", "dev"},
			config: string(good) + "\n[profile broken\nregion = x\n", message: w.config + ":"},
		{name: "config line without =", args: []string{"export", "dev"},
			config: "[profile dev]\njust words\n", message: w.config + ":2:"},
		{name: "source_profile loop", args: []string{"export", "a"},
			config:  "[profile a]\nsource_profile = b\nrole_arn = arn:aws:iam::123456789012:role/a\n[profile b]\nsource_profile = a\nrole_arn = arn:aws:iam::123456789012:role/b\n",
			message: "loop"},
		{name: "include_profile loop", args: []string{"export", "a"},
			config: "[profile a]\ninclude_profile = b\n[profile b]\ninclude_profile = a\n", message: "loop"},
		{name: "no key stored", args: []string{"export", "other"}, message: "no access key stored"},
		{name: "no MFA device", args: []string{"export", "lonely"}, message: "no mfa_serial"},
		{name: "file backend refused", args: []string{"export", "dev"}, env: []string{"BROKER_BACKEND=file"}, message: "file"},
		{name: "unknown backend", args: []string{"list"}, env: []string{"BROKER_BACKEND=floppy"}, message: "floppy"},
		{name: "no usable backend", args: []string{"export", "dev"}, env: []string{"BROKER_BACKEND=kwallet", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent"}, message: "kwallet"},
		{name: "STS unreachable", args: []string{"export", "cold"}, env: []string{"AWS_ENDPOINT_URL=" + closed}, message: "unreachable"},
		{name: "MFA code malformed", args: []string{"export", "--mfa-token", "12345", "cold"}, message: "MFA"},
		{name: "bad format", args: []string{"export", "--format", "yaml", "dev"}, message: "yaml"},
		{name: "no profile argument", args: []string{"export"}, message: "PROFILE"},
		{name: "add temporary key", args: []string{"add", "--env", "x"},
			env: []string{"AWS_ACCESS_KEY_ID=ASIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, message: "temporary"},
		{name: "add malformed key ID", args: []string{"add", "--env", "x"},
			env: []string{"AWS_ACCESS_KEY_ID=AKIA123", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, message: "malformed access key ID"},
		{name: "add empty secret", args: []string{"add", "--env", "x"},
			env: []string{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY="}, message: "empty secret"},
		{name: "add without terminal", args: []string{"add", "x"}, message: "terminal"},
		{name: "remove without confirmation", args: []string{"remove", "dev"}, message: "confirmation"},
		{name: "setup unknown profile", args: []string{"setup", "ghost"}, message: `profile "ghost"`},
	}
	// An expired cache would make every case mint; start each from the same warm state.
	w.mustBroker("export", "dev")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.config != "" {
				w.writeConfig(c.config)
				defer w.writeConfig(string(good))
			}
			before := snapshot(t, w)
			r := w.cmd(c.env, brokerBin, c.args...)
			assertFailure(t, r, c.message)
			for _, secret := range []string{u.secret} {
				if strings.Contains(r.stderr, secret) {
					t.Error("stderr holds the secret")
				}
			}
			if after := snapshot(t, w); after != before {
				t.Errorf("something stored changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestRejectedKey(t *testing.T) {
	w, u := setupDev(t)
	// A well-formed key that IAM never issued, stored for profile ghost.
	w.writeConfig(fmt.Sprintf("[profile ghost]\nmfa_serial = %s\nmfa_process = %s\n", u.serial, w.mfaProcess("123456")))
	w.addKey("ghost", user{keyID: "AKIAZZZZZZZZZEXAMPLE", secret: "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"})
	// From now on moto checks every request's key.
	w.aws.EnforceAuth(t)
	r := w.cmd(nil, brokerBin, "export", "ghost")
	assertFailure(t, r, "rejected the access key ****MPLE")
	if !strings.Contains(r.stderr, "broker add ghost") {
		t.Errorf("no hint to store a working key: %q", r.stderr)
	}
}

func TestCachedSessionServedWhileSTSDown(t *testing.T) {
	w, _ := setupDev(t)
	// STS is an endpoint that passes requests on to moto, then goes down
	// (hangs rather than answers): the endpoint, part of the cache key,
	// stays the same.
	target, err := url.Parse(w.aws.URL)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	sts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() {
			<-r.Context().Done()
			return
		}
		proxy.ServeHTTP(rw, r)
	}))
	defer sts.Close()
	env := []string{"AWS_ENDPOINT_URL=" + sts.URL}
	first := decodeExport(t, w.cmd(env, brokerBin, "export", "dev").stdout)
	down.Store(true)
	r := w.cmd(env, brokerBin, "export", "dev")
	if r.code != 0 {
		t.Fatalf("a valid cached session was not served with STS down: %s", r.stderr)
	}
	if decodeExport(t, r.stdout) != first {
		t.Error("served a different session than the cached one")
	}
}

func assertFailure(t *testing.T, r result, message string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("succeeded, want a failure; stdout %q", r.stdout)
	}
	if r.stdout != "" {
		t.Errorf("printed on stdout: %q", r.stdout)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "broker: ") || len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
		t.Errorf("stderr is not one broker: line and an optional hint:\n%s", r.stderr)
	}
	if !strings.Contains(lines[0], message) {
		t.Errorf("message %q does not mention %q", lines[0], message)
	}
}

// snapshot is what broker keeps: the config file and the keychain's listing.
func snapshot(t *testing.T, w *world) string {
	t.Helper()
	cfg, _ := os.ReadFile(w.config)
	empty := filepath.Join(w.root, "empty-config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.cmd([]string{"AWS_CONFIG_FILE=" + empty}, brokerBin, "list", "--json")
	return fmt.Sprintf("config %q keychain %s", cfg, strings.Join(strings.Fields(r.stdout), ""))
}
