package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordedBackend: the backend the first key went to is the one every
// later Open uses, whatever else is reachable; another one named is refused.
func TestRecordedBackend(t *testing.T) {
	service := uniqueService(t)
	openKeyctl(t, service) // skips without a kernel keyring; cleans up
	record := filepath.Join(t.TempDir(), "broker", "backend")
	v, err := Open(Options{Backend: "keyctl", Service: service, Record: record})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(record); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("opening recorded something: %v", err)
	}
	if err := v.SetKey("dev", Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(record); err != nil || string(b) != "keyctl\n" {
		t.Fatalf("record after the first key: %q, %v", b, err)
	}
	// Under scripts/test.sh the Secret Service comes first when nothing is
	// named: the record must still win.
	v, err = Open(Options{Service: service, Record: record})
	if err != nil || v.Backend() != "keyctl" {
		t.Fatalf("Open with a record = %v, %v; want keyctl", v, err)
	}
	if k, err := v.Key("dev"); err != nil || k.AccessKeyID != testKeyID {
		t.Fatalf("Key through the recorded backend = %+v, %v", k, err)
	}
	_, err = Open(Options{Backend: "secret-service", Service: service, Record: record})
	var be *BackendError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "keyctl") || !strings.Contains(be.Hint, record) {
		t.Fatalf("Open naming another backend than the record: %v", err)
	}
	if err := os.WriteFile(record, []byte("floppy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Service: service, Record: record}); !errors.As(err, &be) || !strings.Contains(err.Error(), record) {
		t.Fatalf("Open with a record naming no backend: %v", err)
	}

	// Keys stored before broker recorded backends: the first read records.
	os.Remove(record)
	v, err = Open(Options{Backend: "keyctl", Service: service, Record: record})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Key("dev"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(record); err != nil || string(b) != "keyctl\n" {
		t.Fatalf("record after reading a key: %q, %v", b, err)
	}
}
