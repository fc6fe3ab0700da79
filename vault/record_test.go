package vault

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

// TestDecodeKey: what an unreadable key item is, said without its content.
func TestDecodeKey(t *testing.T) {
	for _, c := range []struct{ data, found string }{
		{"not json " + testSecret, "bytes that are not a JSON object"},
		{`{"access_key_id":"A","secret_access_key":"` + testSecret + `"}`, "without a format version"},
		{`{"v":"` + testSecret + `"}`, "not a small whole number"},
		{`{"v":2,"keys":["` + testSecret + `"]}`, "format version 2 (this broker reads version 1, written by a newer broker)"},
		{`{"v":1,"secret_access_key":"` + testSecret + `"}`, "without an access key ID"},
		{`{"v":1,"access_key_id":"` + testKeyID + `"}`, "without a secret access key"},
		{`{"v":1,"access_key_id":"` + testKeyID + `","secret_access_key":"` + testSecret + `","added":"` + testSecret + `"}`, "fields of the wrong type"},
	} {
		_, err := decodeKey([]byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.found) {
			t.Errorf("decodeKey(%.30q…) = %v, want %q", c.data, err, c.found)
		}
		noSecret(t, err)
	}
	k, err := decodeKey([]byte(`{"v":1,"access_key_id":"` + testKeyID + `","secret_access_key":"` + testSecret + `"}`))
	if err != nil || k.AccessKeyID != testKeyID || k.SecretAccessKey != testSecret {
		t.Fatalf("decodeKey of a good key = %+v, %v", k, err)
	}
}

// TestOpenTimeoutIsNotLocked: a backend that does not answer while it is
// opened is not "locked": opening reads no item, so no unlock prompt waits.
func TestOpenTimeoutIsNotLocked(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	g := &gate{backend: "secret-service", timeout: 50 * time.Millisecond}
	_, err := run(g, func() (keyring.Keyring, error) { <-release; return nil, nil })
	if !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrLocked) {
		t.Fatalf("opening a backend that does not answer: %v, want ErrNoAnswer and not ErrLocked", err)
	}
}
