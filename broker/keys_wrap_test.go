package broker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

// brokenRing is a keychain whose every operation fails.
type brokenRing struct{}

var errBroken = errors.New("the keychain broke")

func (brokenRing) Get(string) (keyring.Item, error)             { return keyring.Item{}, errBroken }
func (brokenRing) GetMetadata(string) (keyring.Metadata, error) { return keyring.Metadata{}, errBroken }
func (brokenRing) Set(keyring.Item) error                       { return errBroken }
func (brokenRing) Remove(string) error                          { return errBroken }
func (brokenRing) Keys() ([]string, error)                      { return nil, errBroken }

// repeated returns a ": "-separated part of msg that appears twice, the
// sign of an error wrapped twice with the same words.
func repeated(msg string) string {
	seen := map[string]bool{}
	for _, part := range strings.Split(msg, ": ") {
		if seen[part] {
			return part
		}
		seen[part] = true
	}
	return ""
}

// TestErrorsWrappedOnce: what the keychain says reaches the user once,
// with the words of the layer that knows them.
func TestErrorsWrappedOnce(t *testing.T) {
	cfg, err := awsconfig.Parse("config", []byte("[profile d]\nmfa_serial = arn:aws:iam::123456789012:mfa/d\nmfa_process = echo 123456\n[profile r]\nsource_profile = d\nrole_arn = arn:aws:iam::123456789012:role/r\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{Config: cfg, Vault: vault.New(brokenRing{}, "")}
	key := vault.Key{AccessKeyID: "AKIA0TESTTESTTESTTES", SecretAccessKey: "wJalrXUtnFEMIK7MDENGbPxRfiCYzzzzzzzzzzzz"}
	calls := map[string]func() error{
		"RemoveKey":     func() error { _, err := b.RemoveKey("d"); return err },
		"AddKey":        func() error { _, err := b.AddKey("d", key, true); return err },
		"StoredKey":     func() error { _, _, err := b.StoredKey("d"); return err },
		"Credentials":   func() error { _, err := b.Credentials(context.Background(), "r"); return err },
		"Status":        func() error { _, err := b.Status(); return err },
		"ClearSessions": func() error { _, err := b.ClearSessions("r"); return err },
		"ClearAll":      func() error { _, err := b.ClearSessions(""); return err },
		"DropKeySessions": func() error {
			_, err := b.DropKeySessions(key.AccessKeyID)
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, errBroken) {
			t.Errorf("%s: %v, want the keychain's error", name, err)
			continue
		}
		if part := repeated(err.Error()); part != "" {
			t.Errorf("%s: %q says %q twice", name, err, part)
		}
	}
}

// TestSecretLengthMessage: the message states the rule the check applies.
func TestSecretLengthMessage(t *testing.T) {
	const id = "AKIA0TESTTESTTESTTES"
	for _, n := range []int{minSecret, 40, 41, maxSecret} {
		if err := ValidateKey(id, strings.Repeat("a", n)); err != nil {
			t.Errorf("a %d-character secret: %v", n, err)
		}
	}
	for _, n := range []int{minSecret - 1, maxSecret + 1} {
		err := ValidateKey(id, strings.Repeat("a", n))
		if !errors.Is(err, ErrMalformedSecret) {
			t.Fatalf("a %d-character secret: %v, want ErrMalformedSecret", n, err)
		}
		if !strings.Contains(err.Error(), "16 to 128") {
			t.Errorf("a %d-character secret: %q does not say the lengths accepted (16 to 128)", n, err)
		}
	}
}
