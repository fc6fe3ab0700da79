//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/internal/moto"
	"github.com/broker-dev/broker/internal/testbus"
)

// addEnv is the environment for `broker add --env` with u's key.
func addEnv(u user) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + u.keyID, "AWS_SECRET_ACCESS_KEY=" + u.secret}
}

// storedKeyID is the masked key ID `broker list` shows for profile.
func storedKeyID(t *testing.T, w *world, profile string) string {
	t.Helper()
	for _, r := range decodeList(w.mustBroker("list", "--json")) {
		if r.Name == profile {
			return r.KeyID
		}
	}
	return ""
}

// TestAddKeepsStoredKey: `broker add` never replaces a stored key unless
// told to, and then says which key went and that it is still valid.
func TestAddKeepsStoredKey(t *testing.T) {
	w, alice := setupDev(t)
	bob := w.newUser("bob")
	aliceMasked := "****" + alice.keyID[len(alice.keyID)-4:]

	r := w.cmd(addEnv(bob), brokerBin, "add", "--env", "dev")
	assertFailure(t, r, fmt.Sprintf(`profile "dev" has a key stored already (%s)`, aliceMasked))
	if !strings.Contains(r.stderr, "hint: `broker add --force dev`") {
		t.Errorf("no hint to use --force: %q", r.stderr)
	}
	if got := storedKeyID(t, w, "dev"); got != aliceMasked {
		t.Fatalf("after a refused add, dev's key is %q, want alice's %s", got, aliceMasked)
	}
	if e := decodeExport(t, w.mustBroker("export", "dev")); e.AccessKeyID == "" {
		t.Fatal("no session from alice's key")
	}

	r = w.cmd(addEnv(bob), brokerBin, "add", "--env", "--force", "dev")
	if r.code != 0 {
		t.Fatalf("add --force: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"replaces the key " + aliceMasked, "stays valid in IAM", "broker keys deactivate dev " + alice.keyID, "user/bob"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("add --force does not say %q:\n%s", want, r.stderr)
		}
	}
	if got, want := storedKeyID(t, w, "dev"), "****"+bob.keyID[len(bob.keyID)-4:]; got != want {
		t.Errorf("after add --force, dev's key is %q, want bob's %s", got, want)
	}
}

// TestAddVerifiesKey: a key AWS rejects is not stored, unless --no-verify.
func TestAddVerifiesKey(t *testing.T) {
	w := newWorld(t)
	carol := w.newUser("carol")
	w.writeConfig("[profile typo]\nmfa_serial = " + carol.serial + "\n[profile good]\nmfa_serial = " + carol.serial + "\n")
	w.aws.EnforceAuth(t)
	typo := user{keyID: carol.keyID, secret: carol.secret[:len(carol.secret)-1] + "x"}
	if typo.secret == carol.secret {
		typo.secret = carol.secret[:len(carol.secret)-1] + "y"
	}
	r := w.cmd(addEnv(typo), brokerBin, "add", "--env", "typo")
	assertFailure(t, r, "nothing was stored")
	if !strings.Contains(r.stderr, "--no-verify") {
		t.Errorf("no hint about --no-verify: %q", r.stderr)
	}
	if got := storedKeyID(t, w, "typo"); got != "" {
		t.Fatalf("a key AWS rejects was stored: %s", got)
	}
	if n := len(w.calls("GetCallerIdentity")); n == 0 {
		t.Error("add asked AWS nothing")
	}

	r = w.cmd(addEnv(typo), brokerBin, "add", "--env", "--no-verify", "typo")
	if r.code != 0 || storedKeyID(t, w, "typo") == "" {
		t.Fatalf("add --no-verify did not store the key: exit %d: %s", r.code, r.stderr)
	}

	r = w.cmd(addEnv(carol), brokerBin, "add", "--env", "good")
	if r.code != 0 {
		t.Fatalf("add of a working key: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "user/carol") || !strings.Contains(r.stderr, "account "+moto.DefaultAccountID) {
		t.Errorf("add does not say whose key it is:\n%s", r.stderr)
	}
}

// TestUnreadableKeyItem: an item broker cannot read is an error that says
// what it is, and neither add nor import overwrite it without --force.
func TestUnreadableKeyItem(t *testing.T) {
	w, alice := setupDev(t)
	_, service := worldVault(t, w)
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
	// As a newer broker might store it.
	item := service + ":key:dev"
	newer := fmt.Sprintf(`{"v":2,"keys":[{"access_key_id":%q,"secret_access_key":%q}]}`, alice.keyID, alice.secret)
	if err := ring.Set(keyring.Item{Key: item, Data: []byte(newer)}); err != nil {
		t.Fatal(err)
	}
	unchanged := func() {
		t.Helper()
		got, err := ring.Get(item)
		if err != nil || string(got.Data) != newer {
			t.Fatalf("the unreadable item was changed or removed (%v)", err)
		}
	}

	r := w.cmd(nil, brokerBin, "export", "dev")
	assertFailure(t, r, "cannot read: format version 2")
	if !strings.Contains(r.stderr, "newer broker") || strings.Contains(r.stderr, alice.secret) {
		t.Errorf("export's message: %q", r.stderr)
	}
	bob := w.newUser("bob")
	r = w.cmd(addEnv(bob), brokerBin, "add", "--env", "dev")
	assertFailure(t, r, "cannot read")
	unchanged()

	creds := credentialsFile(t, w, "[dev]\naws_access_key_id = "+bob.keyID+"\naws_secret_access_key = "+bob.secret+"\n")
	r = w.cmd(nil, brokerBin, "import", "--yes")
	if !strings.Contains(r.stderr, "cannot read") {
		t.Errorf("import does not say that it skipped the unreadable item:\n%s", r.stderr)
	}
	unchanged()
	if b, _ := os.ReadFile(creds); !strings.Contains(string(b), bob.secret) {
		t.Error("import removed a key from the file that it did not store")
	}
	if list := w.mustBroker("list"); !strings.Contains(list, "cannot read") || strings.Contains(list, alice.secret) {
		t.Errorf("list does not show the unreadable item:\n%s", list)
	}

	r = w.cmd(addEnv(bob), brokerBin, "add", "--env", "--force", "dev")
	if r.code != 0 {
		t.Fatalf("add --force over the unreadable item: exit %d: %s", r.code, r.stderr)
	}
	if got, want := storedKeyID(t, w, "dev"), "****"+bob.keyID[len(bob.keyID)-4:]; got != want {
		t.Errorf("dev's key is %q after add --force, want %s", got, want)
	}
}

// TestRemoveSaysKeyStaysValid: removing a key from the keychain does not
// deactivate it, and broker says how to.
func TestRemoveSaysKeyStaysValid(t *testing.T) {
	w, alice := setupDev(t)
	r := w.cmd(nil, brokerBin, "remove", "--yes", "dev")
	if r.code != 0 {
		t.Fatalf("remove: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"still valid in IAM", "broker keys deactivate", alice.keyID} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("remove does not say %q:\n%s", want, r.stderr)
		}
	}
	if status := w.aws.AccessKeys(t, "alice")[alice.keyID]; status != "Active" {
		t.Errorf("alice's key is %q in IAM, want Active: remove must not touch IAM", status)
	}
}

// TestClearSharedRoleSession: two profiles with the same role share its
// cached session; clearing one must drop it, and say so.
func TestClearSharedRoleSession(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("dora")
	role := w.aws.NewRole(t, "shared")
	// A role session longer than an hour is assumed from the key itself:
	// there is no MFA session to clear besides it.
	w.writeConfig(fmt.Sprintf(`[profile base]
mfa_serial = %s
mfa_process = %s
[profile dev]
source_profile = base
role_arn = %s
duration_seconds = 7200
[profile m]
source_profile = base
role_arn = %s
duration_seconds = 7200
`, u.serial, w.mfaProcess("123456"), role, role))
	w.addKey("base", u)
	w.mustBroker("export", "dev")
	w.mustBroker("export", "m") // served the session dev cached
	before := len(w.calls("AssumeRole"))
	if before != 1 {
		t.Fatalf("%d AssumeRole calls for two profiles of one role, want 1", before)
	}
	r := w.cmd(nil, brokerBin, "clear", "m")
	if r.code != 0 || !strings.Contains(r.stderr, "Cleared 1 ") {
		t.Fatalf("clear m: exit %d: %s", r.code, r.stderr)
	}
	w.mustBroker("export", "m")
	if n := len(w.calls("AssumeRole")) - before; n != 1 {
		t.Errorf("after clear m, export m made %d AssumeRole calls, want 1: it was served the cleared session", n)
	}
}

// TestRecordedBackend: keys stored in the Secret Service are read from it,
// never from another keychain, and without a session bus broker says so
// at once instead of showing no keys.
func TestRecordedBackend(t *testing.T) {
	w := newWorld(t)
	if w.backend != "secret-service" {
		if os.Getenv(moto.RequireEnv) == "1" {
			t.Fatal("no session bus with a Secret Service: run under scripts/test.sh")
		}
		t.Skip("needs a session bus with a Secret Service")
	}
	u := w.newUser("erin")
	w.writeConfig("[profile dev]\nmfa_serial = " + u.serial + "\nmfa_process = " + w.mfaProcess("123456") + "\n")
	w.addKey("dev", u)
	// As over SSH: no session bus at all, and BROKER_BACKEND unset.
	noBus := *w
	noBus.env = testbus.Without(w.env, "DBUS_SESSION_BUS_ADDRESS", "BROKER_BACKEND")
	for _, args := range [][]string{{"list"}, {"export", "dev"}} {
		r := noBus.cmd(nil, brokerBin, args...)
		assertFailure(t, r, `keychain backend "secret-service": no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset`)
		if !strings.Contains(r.stderr, "hint: ") || strings.Contains(r.stderr, "did not answer") {
			t.Errorf("%s without a bus: %q", args[0], r.stderr)
		}
	}
	record := filepath.Join(w.home, ".config", "broker", "backend")
	if b, err := os.ReadFile(record); err != nil || string(b) != "secret-service\n" {
		t.Fatalf("the record %s holds %q (%v), want secret-service", record, b, err)
	}
	// Without BROKER_BACKEND the record decides.
	w.env = testbus.Without(w.env, "BROKER_BACKEND")
	if got := storedKeyID(t, w, "dev"); got == "" {
		t.Fatal("list without BROKER_BACKEND shows no key")
	}
	// Naming another backend than the one recorded is refused.
	r := noBus.cmd([]string{"BROKER_BACKEND=keyctl"}, brokerBin, "list")
	assertFailure(t, r, "keys are in the secret-service keychain")
	// A bus whose daemon is gone.
	r = w.cmd([]string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(w.root, "no-bus")}, brokerBin, "export", "dev")
	assertFailure(t, r, "does not answer")
	// A bus with no Secret Service on it, and none it could start.
	r = w.cmd([]string{"DBUS_SESSION_BUS_ADDRESS=" + testbus.Bare(t, w.root)}, brokerBin, "export", "dev")
	assertFailure(t, r, "no Secret Service on the D-Bus session bus")
}

// TestNoBusLaunched: with no session bus, no broker command starts
// dbus-launch or a dbus-daemon, and no child sees what broker did about it.
func TestNoBusLaunched(t *testing.T) {
	w := newWorld(t)
	w.env = append(testbus.Without(w.env, "DBUS_SESSION_BUS_ADDRESS", "BROKER_BACKEND"), "BROKER_BACKEND=keyctl")
	// A dbus-launch first on PATH that records each call and starts nothing.
	bin := filepath.Join(w.root, "bin")
	called := filepath.Join(w.root, "dbus-launch-called")
	if err := os.Mkdir(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\necho \"$@\" >> " + called + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(fake), 0o700); err != nil {
		t.Fatal(err)
	}
	w.env = append(testbus.Without(w.env, "PATH"), "PATH="+bin+":"+os.Getenv("PATH"))

	u := w.newUser("fay")
	childEnv := filepath.Join(w.root, "child-env")
	w.writeConfig(fmt.Sprintf("[profile dev]\nmfa_serial = %s\nmfa_process = sh -c 'env > %s; echo 123456'\n", u.serial, childEnv))
	w.mustBroker("--version")
	w.mustBroker("list")
	w.addKey("dev", u)
	w.mustBroker("export", "dev")
	execEnv := w.mustBroker("exec", "dev", "--", "env")
	if b, err := os.ReadFile(called); err == nil {
		t.Fatalf("broker ran dbus-launch: %q", b)
	}
	mfaEnv, err := os.ReadFile(childEnv)
	if err != nil {
		t.Fatal(err)
	}
	for what, env := range map[string]string{"mfa_process": string(mfaEnv), "exec's command": execEnv} {
		if strings.Contains(env, "DBUS_SESSION_BUS_ADDRESS") {
			t.Errorf("%s inherited DBUS_SESSION_BUS_ADDRESS from broker:\n%s", what, env)
		}
	}

	// The real dbus-launch on PATH: no dbus-daemon may carry this run's mark.
	if _, err := exec.LookPath("dbus-launch"); err != nil {
		t.Log("dbus-launch is not installed: only the fake one was tried")
		return
	}
	mark := "BROKER_TEST_MARK=" + randomHex(t, 8)
	w.env = append(testbus.Without(w.env, "PATH"), "PATH="+os.Getenv("PATH"), mark)
	w.mustBroker("--version")
	w.mustBroker("list")
	w.mustBroker("export", "dev")
	if pids := markedDaemons(mark); len(pids) > 0 {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGTERM) // started by this test's broker runs
		}
		t.Errorf("broker runs left %d dbus-daemon processes: %v", len(pids), pids)
	}
}

// markedDaemons are the dbus-daemon processes whose environment holds mark:
// only those this test's broker runs could have started.
func markedDaemons(mark string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if strings.TrimSpace(string(comm)) != "dbus-daemon" {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if slices.Contains(strings.Split(string(env), "\x00"), mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHungBus: a session bus that accepts connections and never answers (a
// socket something else listens on, a dbus-daemon stopped with SIGSTOP)
// hangs no command. --version works; the Secret Service, named, recorded
// or picked by default, is one line naming the bus, with a hint, and
// nothing on stdout; keyctl works without the bus, and a child sees the
// variable as broker found it.
func TestHungBus(t *testing.T) {
	w := newWorld(t)
	w.limit = time.Minute // a hang guard only: each command needs a few seconds at most
	w.env = append(testbus.Without(w.env, "BROKER_BACKEND", "DBUS_SESSION_BUS_ADDRESS"), "BROKER_AGENT=off")
	u := w.newUser("gus")
	w.writeConfig("[profile dev]\nmfa_serial = " + u.serial + "\nmfa_process = " + w.mfaProcess("123456") + "\n")

	// A socket that accepts connections and never writes to them.
	sock := filepath.Join(w.root, "silent-bus")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-accepted
		for _, c := range held {
			c.Close()
		}
	})

	record := filepath.Join(w.home, ".config", "broker", "backend")
	if err := os.MkdirAll(filepath.Dir(record), 0o700); err != nil {
		t.Fatal(err)
	}
	var stopped string
	for _, bus := range []struct{ what, addr string }{
		{"a socket that never answers", "unix:path=" + sock},
		{"a stopped dbus-daemon", testbus.Stopped(t, w.root)},
	} {
		stopped = bus.addr
		env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus.addr}
		if r := w.cmd(env, brokerBin, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "broker version") {
			t.Errorf("%s: broker --version: exit %d, stdout %q, stderr %q", bus.what, r.code, r.stdout, r.stderr)
		}
		want := `keychain backend "secret-service": the D-Bus session bus at ` + bus.addr + " did not answer"
		for _, c := range []struct {
			how    string
			env    []string
			record bool
		}{
			{"named", []string{"BROKER_BACKEND=secret-service"}, false},
			{"recorded", nil, true},
			{"nothing named or recorded", nil, false},
		} {
			os.Remove(record)
			if c.record {
				if err := os.WriteFile(record, []byte("secret-service\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := w.cmd(append(env, c.env...), brokerBin, "export", "dev")
			assertFailure(t, r, want)
			if !strings.Contains(r.stderr, "\nhint: ") || !strings.Contains(r.stderr, "kill -CONT") {
				t.Errorf("%s, secret-service %s: no hint about the bus: %q", bus.what, c.how, r.stderr)
			}
		}
		os.Remove(record)
	}

	// keyctl needs no bus: the probe's failure does not stop it.
	w.env = append(w.env, "BROKER_BACKEND=keyctl", "DBUS_SESSION_BUS_ADDRESS="+stopped)
	w.addKey("dev", u)
	decodeExport(t, w.mustBroker("export", "dev"))
	env := w.mustBroker("exec", "dev", "--", "env")
	if !slices.Contains(strings.Split(env, "\n"), "DBUS_SESSION_BUS_ADDRESS="+stopped) {
		t.Errorf("exec's command does not see DBUS_SESSION_BUS_ADDRESS=%s as broker found it:\n%s", stopped, env)
	}
}
