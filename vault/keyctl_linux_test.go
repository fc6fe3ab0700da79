package vault

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestKeyctl(t *testing.T) {
	v := openKeyctl(t, uniqueService(t))
	if v.Backend() != "keyctl" {
		t.Fatalf("Backend() = %q", v.Backend())
	}
	testVault(t, v)
}

// The process test's values: the writer stores them, the reader checks.
var (
	procKey     = Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret, Added: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	procSession = Session{ID: "5e55", Profile: "dev", SourceKeyID: testKeyID, RoleARN: "arn:aws:iam::123456789012:role/R",
		AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: testSecret2, SessionToken: testToken, Expiration: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
)

// TestKeyctlProcesses stores items in one process and reads them in
// another, each in a new anonymous session keyring (`keyctl session -`)
// when keyutils is installed: processes of one user share nothing but the
// user keyring, as a shell and a cron job do.
func TestKeyctlProcesses(t *testing.T) {
	service := os.Getenv("BROKER_VAULT_TEST_SERVICE")
	switch os.Getenv(childEnv) {
	case "keyctl-write":
		v, err := Open(Options{Backend: "keyctl", Service: service})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.SetKey("dev", procKey); err != nil {
			t.Fatal(err)
		}
		if err := v.SetSession(procSession); err != nil {
			t.Fatal(err)
		}
		return
	case "keyctl-read":
		v, err := Open(Options{Backend: "keyctl", Service: service})
		if err != nil {
			t.Fatal(err)
		}
		checkProcItems(t, v)
		return
	}

	service = uniqueService(t)
	openKeyctl(t, service) // for the skip and the cleanup
	var wrap []string
	if _, err := exec.LookPath("keyctl"); err == nil {
		wrap = []string{"keyctl", "session", "-"}
	} else {
		t.Log("keyutils is not installed: the processes share this session keyring")
	}
	if err := dropKeyctlRing(service); err != nil { // let the writer create it
		t.Fatal(err)
	}
	env := append(os.Environ(), "BROKER_VAULT_TEST_SERVICE="+service)
	runChild(t, "TestKeyctlProcesses", append(env, childEnv+"=keyctl-write"), wrap...)
	runChild(t, "TestKeyctlProcesses", append(env, childEnv+"=keyctl-read"), wrap...)
	v, err := Open(Options{Backend: "keyctl", Service: service})
	if err != nil {
		t.Fatal(err)
	}
	checkProcItems(t, v)
}

func checkProcItems(t *testing.T, v *Vault) {
	t.Helper()
	k, err := v.Key("dev")
	if err != nil || k != procKey {
		t.Fatalf("Key(dev) = %+v, %v; want %+v", k, err, procKey)
	}
	s, err := v.Session(procSession.ID)
	if err != nil || !sameSession(s, procSession) {
		t.Fatalf("Session = %+v, %v; want %+v", s, err, procSession)
	}
	if p, err := v.KeyProfiles(); err != nil || !slices.Equal(p, []string{"dev"}) {
		t.Fatalf("KeyProfiles = %q, %v", p, err)
	}
}

// openKeyctl opens the kernel keyring under service and removes the
// service's keyring at the end of the test.
func openKeyctl(t *testing.T, service string) *Vault {
	t.Helper()
	v, err := Open(Options{Backend: "keyctl", Service: service})
	if err != nil {
		requireIntegration(t, "no kernel keyring: %v", err)
	}
	t.Cleanup(func() {
		if err := dropKeyctlRing(service); err != nil && !errors.Is(err, unix.ENOKEY) {
			t.Errorf("removing the test keyring %q: %v", service, err)
		}
	})
	return v
}

// dropKeyctlRing unlinks the keyring named service from the user keyring;
// the kernel then collects it and its keys.
func dropKeyctlRing(service string) error {
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0)
	if err != nil {
		return err
	}
	_, err = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
	return err
}
