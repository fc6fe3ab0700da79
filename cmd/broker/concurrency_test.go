//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

// TestConcurrentExportsWhileClearing: 50 `broker export` processes across
// three profiles (two users with MFA devices of their own, and a role over
// the first) start on an empty cache, first alone and then while `broker
// clear` runs again and again. Every caller gets a complete session; no
// code is asked twice for one MFA session, and every code asked is spent on
// exactly one GetSessionToken; the cache holds nothing broken afterwards.
func TestConcurrentExportsWhileClearing(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.newUser("alice"), w.newUser("bob")
	role := w.aws.NewRole(t, "deployer")
	asked := map[string]string{ // user → the file its mfa_process counts into
		"alice": filepath.Join(w.root, "mfa-alice"),
		"bob":   filepath.Join(w.root, "mfa-bob"),
	}
	process := func(file, code string) string {
		return fmt.Sprintf("sh -c 'echo asked >> %s; echo %s'", file, code)
	}
	w.writeConfig(fmt.Sprintf(`[profile a]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile b]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile r]
source_profile = a
role_arn = %s
region = eu-central-1
`, alice.serial, process(asked["alice"], "111111"), bob.serial, process(asked["bob"], "222222"), role))
	w.addKey("a", alice)
	w.addKey("b", bob)
	keyOf := map[string]string{"alice": alice.keyID, "bob": bob.keyID}
	profiles := []string{"a", "b", "r"}

	asks := func(user string) int {
		b, err := os.ReadFile(asked[user])
		if errors.Is(err, fs.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "asked")
	}
	// sessions counts GetSessionToken calls per user, checking each carried
	// that user's device and code.
	sessions := func() map[string]int {
		n := map[string]int{}
		for _, c := range w.calls("GetSessionToken") {
			switch c.SigningKeyID {
			case alice.keyID:
				n["alice"]++
				if c.Params["SerialNumber"] != alice.serial || c.Params["TokenCode"] != "111111" {
					t.Errorf("alice's GetSessionToken carried %v", c.Params)
				}
			case bob.keyID:
				n["bob"]++
				if c.Params["SerialNumber"] != bob.serial || c.Params["TokenCode"] != "222222" {
					t.Errorf("bob's GetSessionToken carried %v", c.Params)
				}
			default:
				t.Errorf("GetSessionToken signed by %s, neither stored key", c.SigningKeyID)
			}
		}
		return n
	}
	// exports runs n exports spread over the profiles, all at once, and
	// checks each got a complete credential_process document.
	exports := func(phase string, n int) {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]result, n)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = w.cmd(nil, brokerBin, "export", profiles[i%len(profiles)])
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Fatalf("%s: export %s (%d): exit %d: %s", phase, profiles[i%len(profiles)], i, r.code, r.stderr)
			}
			e := decodeExport(t, r.stdout)
			if e.AccessKeyID == alice.keyID || e.AccessKeyID == bob.keyID {
				t.Errorf("%s: export %d handed out a long-term key", phase, i)
			}
		}
	}

	// Phase 1: a cold cache and no clear: one code per MFA session, and the
	// role's session assumed once.
	exports("cold", 50)
	for user := range asked {
		if a, s := asks(user), sessions()[user]; a != 1 || s != 1 {
			t.Errorf("cold: %s was asked %d codes and made %d GetSessionToken calls, want 1 and 1", user, a, s)
		}
	}
	if n := len(w.calls("AssumeRole")); n != 1 {
		t.Errorf("cold: %d AssumeRole calls, want 1", n)
	}

	// Phase 2: clear the cache, then clear it again and again while 50
	// exports run. A clear may force a new session, each with one code.
	w.mustBroker("clear")
	clears := func() (runs []result) {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A few clears, over the first part of the run, so that the
			// exports after the last one fill the cache again.
			for range 5 {
				select {
				case <-done:
					return
				default:
				}
				runs = append(runs, w.cmd(nil, brokerBin, "clear"))
				time.Sleep(100 * time.Millisecond)
			}
		}()
		// Stopped before any failure ends the test: the goroutine runs the
		// test's binary and may not outlive it.
		defer wg.Wait()
		defer close(done)
		exports("while clearing", 50)
		return // runs is read after the deferred Wait
	}()
	for i, r := range clears {
		if r.code != 0 {
			t.Errorf("clear %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	t.Logf("%d clears ran alongside the exports", len(clears))
	s := sessions()
	for user := range asked {
		if a := asks(user); a != s[user] || a < 2 {
			t.Errorf("while clearing: %s was asked %d codes in all for %d GetSessionToken calls; want one code per call, and a new session after the clear",
				user, a, s[user])
		}
	}

	// The cache: every entry whole, every listed session valid, every
	// profile still served.
	checkRawSessions(t, w)
	var rows []listRow
	if err := json.Unmarshal([]byte(w.mustBroker("list", "--json")), &rows); err != nil {
		t.Fatalf("list --json: %v", err)
	}
	for _, r := range rows {
		for _, s := range r.Sessions {
			if !s.Expiration.After(time.Now()) {
				t.Errorf("list shows a session of %s (role %q) expiring %v", r.Name, s.RoleARN, s.Expiration)
			}
		}
	}
	before := sessions()
	for _, p := range profiles {
		decodeExport(t, w.mustBroker("export", p))
	}
	// A session a final export had to mint is fine (the last clear may have
	// run after the last export); a broken entry would show as an error.
	after := sessions()
	for user, key := range keyOf {
		if after[user] > before[user]+1 {
			t.Errorf("the final exports made %d GetSessionToken calls with %s's key %s", after[user]-before[user], user, key)
		}
	}
	if n := checkRawSessions(t, w); n < 3 && w.backend == "secret-service" {
		t.Errorf("%d cached sessions after exporting three profiles, want 3", n)
	}
}

// checkRawSessions reads every cached-session item of the world's keychain
// namespace straight from the Secret Service, under broker's own decoding:
// a torn or interleaved write would show here, where broker itself would
// quietly drop the entry.
func checkRawSessions(t *testing.T, w *world) int {
	t.Helper()
	if w.backend != "secret-service" {
		t.Logf("not reading the raw items of the %s backend", w.backend)
		return 0
	}
	var service string
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "BROKER_KEYRING_SERVICE="); ok {
			service = v
		}
	}
	ring, err := keyring.Open(keyring.Config{
		AllowedBackends:         []keyring.BackendType{keyring.SecretServiceBackend},
		ServiceName:             service,
		LibSecretCollectionName: "login",
	})
	if err != nil {
		t.Fatalf("opening the Secret Service: %v", err)
	}
	keys, err := ring.Keys()
	if err != nil {
		t.Fatal(err)
	}
	prefix := service + ":session:"
	n := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		item, err := ring.Get(k)
		if errors.Is(err, keyring.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("reading %s: %v", k, err)
		}
		var s struct {
			V               int
			AccessKeyID     string `json:"access_key_id"`
			SecretAccessKey string `json:"secret_access_key"`
			SessionToken    string `json:"session_token"`
			Expiration      time.Time
		}
		if err := json.Unmarshal(item.Data, &s); err != nil || s.V != 1 || s.AccessKeyID == "" ||
			s.SecretAccessKey == "" || s.SessionToken == "" || s.Expiration.IsZero() {
			t.Errorf("cached session %s does not decode (%v): %d bytes", strings.TrimPrefix(k, prefix), err, len(item.Data))
		}
		n++
	}
	t.Logf("%d cached session items, all whole", n)
	return n
}
