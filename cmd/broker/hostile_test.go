//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/vault"
)

// Hostile input and keychain faults, through the real binary: each is a
// clear failure that changes nothing stored, or a recovery, and neither
// hangs. A command that hung would be killed by the harness after 2
// minutes; hostileBound is well inside that, and far above what any case
// needs, so that a slow machine does not fail the test.
const hostileBound = 90 * time.Second

// runFailure runs c in w, checks that it fails as a failure must, and that
// nothing stored changed.
func runFailure(t *testing.T, w *world, c failure) result {
	t.Helper()
	before := snapshot(t, w)
	start := time.Now()
	r := w.cmd(c.env, brokerBin, c.args...)
	if took := time.Since(start); took > hostileBound {
		t.Errorf("took %v, more than %v", took, hostileBound)
	}
	assertFailure(t, r, c.message)
	if after := snapshot(t, w); after != before {
		t.Errorf("something stored changed:\nbefore %.300s\nafter  %.300s", before, after)
	}
	return r
}

func TestHostileConfigs(t *testing.T) {
	w, u := setupDev(t)
	good, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	huge := string(good) + strings.Repeat("# padding padding padding padding padding padding padding padding\n", (17<<20)/66+1)
	selfExport := brokerBin + " export"
	cases := []failure{
		{name: "17 MiB file", args: []string{"export", "dev"}, config: huge, message: "16 MiB"},
		{name: "binary junk", args: []string{"export", "dev"},
			config: string(good) + "\n\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00", message: "NUL"},
		{name: "invalid UTF-8", args: []string{"export", "dev"},
			config: string(good) + "\n[profile bad]\nregion = \xff\xfe\xfd\n", message: "invalid UTF-8"},
		{name: "unterminated section", args: []string{"export", "dev"},
			config: string(good) + "\n[profile x\n", message: w.config + ":"},
		{name: "3-way source_profile loop", args: []string{"export", "a"},
			config: "[profile a]\nsource_profile = b\nrole_arn = arn:aws:iam::123456789012:role/a\n" +
				"[profile b]\nsource_profile = c\nrole_arn = arn:aws:iam::123456789012:role/b\n" +
				"[profile c]\nsource_profile = a\nrole_arn = arn:aws:iam::123456789012:role/c\n",
			message: "source_profile loop: a -> b -> c -> a"},
		{name: "3-way include_profile loop", args: []string{"export", "a"},
			config:  "[profile a]\ninclude_profile = b\n[profile b]\ninclude_profile = c\n[profile c]\ninclude_profile = a\n",
			message: "loop"},
		{name: "source_profile into an include_profile loop", args: []string{"export", "a"},
			config:  "[profile a]\nsource_profile = b\nrole_arn = arn:aws:iam::123456789012:role/a\n[profile b]\ninclude_profile = c\n[profile c]\ninclude_profile = b\n",
			message: "loop"},
		// broker never runs a credential_process: a source profile whose
		// only credentials come from broker itself has no key, and says so
		// rather than recursing.
		{name: "source profile is broker's own hook", args: []string{"export", "child"},
			config: string(good) + "\n[profile child]\nsource_profile = parent\nrole_arn = arn:aws:iam::123456789012:role/child\n" +
				"[profile parent]\nmfa_serial = " + u.serial + "\ncredential_process = " + selfExport + " child\n",
			message: `profile "parent": no access key stored`},
		{name: "source profile hooks itself", args: []string{"export", "child"},
			config: string(good) + "\n[profile child]\nsource_profile = parent\n" +
				"[profile parent]\nmfa_serial = " + u.serial + "\ncredential_process = " + selfExport + " parent\n",
			message: "no access key stored"},
	}
	w.mustBroker("export", "dev")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.writeConfig(c.config)
			defer w.writeConfig(string(good))
			runFailure(t, w, c)
		})
	}

	// Recovery: dev's credential_process is broker itself, named as a
	// person would write it; broker ignores the hook and exports.
	t.Run("own hook", func(t *testing.T) {
		defer w.writeConfig(string(good))
		w.writeConfig(fmt.Sprintf("[profile dev]\nregion = eu-west-1\nmfa_serial = %s\nmfa_process = %s\ncredential_process = broker export dev\n",
			u.serial, w.mfaProcess("123456")))
		path := "PATH=" + filepath.Dir(brokerBin) + string(os.PathListSeparator) + os.Getenv("PATH")
		r := w.cmd([]string{path}, brokerBin, "export", "dev")
		if r.code != 0 {
			t.Fatalf("export of a profile whose credential_process is broker: exit %d: %s", r.code, r.stderr)
		}
		decodeExport(t, r.stdout)
	})
}

// TestHostileMFAProcess: an mfa_process that prints junk fails the command
// with one clear line, quoting none of what it printed. A slow one is
// stopped after Prompter.ProcessTimeout, 2 minutes, which the CLI cannot
// shorten: mfa's TestProcessTimeout covers it.
func TestHostileMFAProcess(t *testing.T) {
	w, u := setupDev(t)
	good, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	// cold shares dev's key and device but not its cached session.
	cold := func(process string) string {
		return fmt.Sprintf("%s\n[profile cold]\nsource_profile = dev\nmfa_serial = %s\nbroker_session_duration = 2h\nmfa_process = %s\n",
			good, u.serial, process)
	}
	cases := []failure{
		{name: "2 MB of output", config: cold(`sh -c "head -c 2000000 /dev/zero | tr '\\000' 7"`), message: "more than 1024 bytes"},
		{name: "two codes", config: cold(`printf '123456\n654321\n'`), message: "invalid MFA code"},
		{name: "multi-line chatter", config: cold(`printf 'Touch your key\n123456\n'`), message: "invalid MFA code"},
		{name: "Arabic-Indic digits", config: cold(`printf '\331\241\331\242\331\243\331\244\331\245\331\246'`), message: "invalid MFA code"},
		{name: "fullwidth digits", config: cold("echo １２３４５６"), message: "invalid MFA code"},
		{name: "control characters", config: cold(`printf '12\033[2J3456'`), message: "invalid MFA code"},
		{name: "code and failure", config: cold("sh -c 'echo 123456; exit 9'"), message: "exit status 9"},
	}
	w.mustBroker("export", "dev")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.writeConfig(c.config)
			defer w.writeConfig(string(good))
			c.args = []string{"export", "cold"}
			if r := runFailure(t, w, c); strings.Contains(r.stderr, "654321") {
				t.Error("the error quotes mfa_process's output")
			}
		})
	}
	if n := len(w.calls("GetSessionToken")); n != 1 {
		t.Errorf("%d GetSessionToken calls; a bad code must not reach STS", n)
	}
}

// worldVault opens the world's keychain namespace in this process.
func worldVault(t *testing.T, w *world) (*vault.Vault, string) {
	t.Helper()
	var service string
	for _, kv := range w.env {
		if s, ok := strings.CutPrefix(kv, "BROKER_KEYRING_SERVICE="); ok {
			service = s
		}
	}
	v, err := vault.Open(vault.Options{Backend: w.backend, Service: service})
	if err != nil {
		t.Fatal(err)
	}
	return v, service
}

func TestKeychainFaults(t *testing.T) {
	w, _ := setupDev(t)
	// Faults made behind broker's back, in the keychain itself: what the
	// direct path does about them. The agent does not see such changes
	// (README: Known limitations).
	w.env = append(w.env, "BROKER_AGENT=off")
	w.mustBroker("export", "dev")
	v, service := worldVault(t, w)
	cached, err := v.Sessions()
	if err != nil || len(cached) != 1 {
		t.Fatalf("cached sessions after export: %d, %v", len(cached), err)
	}
	mints := func() int { return len(w.calls("GetSessionToken")) }

	t.Run("backend unavailable", func(t *testing.T) {
		// A socket nobody listens on: the bus is dead.
		sock := filepath.Join(w.root, "dead-bus")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close()
		runFailure(t, w, failure{args: []string{"export", "dev"},
			env:     []string{"BROKER_BACKEND=secret-service", "DBUS_SESSION_BUS_ADDRESS=unix:path=" + sock},
			message: "secret-service"})
	})

	t.Run("session deleted behind broker's back", func(t *testing.T) {
		before := mints()
		if err := v.RemoveSession(cached[0].ID); err != nil {
			t.Fatal(err)
		}
		decodeExport(t, w.mustBroker("export", "dev"))
		// moto hands out the same credentials each time: count the calls.
		if n := mints() - before; n != 1 {
			t.Errorf("%d GetSessionToken calls, want 1 fresh session", n)
		}
	})

	t.Run("garbage in the cache", func(t *testing.T) {
		all, err := v.Sessions()
		if err != nil || len(all) != 1 {
			t.Fatalf("cached sessions: %d, %v", len(all), err)
		}
		// Written over the item as another program could, bypassing vault.
		ring, err := keyring.Open(keyring.Config{
			AllowedBackends:         []keyring.BackendType{keyring.BackendType(w.backend)},
			ServiceName:             service,
			LibSecretCollectionName: "login",
			KeyCtlScope:             "user",
			KeyCtlPerm:              keyring.GetPermissions(keyring.KEYCTL_PERM_ALL, keyring.KEYCTL_PERM_ALL, 0, 0),
		})
		if err != nil {
			t.Fatal(err)
		}
		item := service + ":session:" + all[0].ID
		if _, err := ring.Get(item); err != nil {
			t.Fatalf("the cached session is not stored as %q: %v", item, err)
		}
		if err := ring.Set(keyring.Item{Key: item, Data: []byte("\x00\xff{\"v\":1,garbage")}); err != nil {
			t.Fatal(err)
		}
		before := mints()
		e := decodeExport(t, w.mustBroker("export", "dev"))
		if n := mints() - before; n != 1 {
			t.Errorf("%d GetSessionToken calls, want 1 fresh session", n)
		}
		after, err := v.Sessions()
		if err != nil || len(after) != 1 || after[0].AccessKeyID != e.AccessKeyID {
			t.Errorf("cache after replacing garbage: %+v, %v; want the fresh session only", after, err)
		}
	})

	t.Run("key deleted behind broker's back", func(t *testing.T) {
		if err := v.RemoveKey("dev"); err != nil {
			t.Fatal(err)
		}
		runFailure(t, w, failure{args: []string{"export", "dev"}, message: `profile "dev": no access key stored`})
	})
}
