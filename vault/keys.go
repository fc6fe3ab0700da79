package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/keyring"
)

// Key is a profile's long-term IAM access key.
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
	Added           time.Time
}

// storedKey is a Key as stored in the keychain. Its own type and tags keep
// the stored form apart from the Go names; V is the format version.
type storedKey struct {
	V               int       `json:"v"`
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	Added           time.Time `json:"added"`
}

const keyFormat = 1

// Key returns the key stored for profile, or an error wrapping ErrNotFound.
// An item that does not decode as a key is an *UnreadableError, never
// ErrNotFound: storing a new key must not be the quiet way out of it.
func (v *Vault) Key(profile string) (Key, error) {
	item, err := v.get(v.itemKey(kindKey, profile))
	if err != nil {
		return Key{}, fmt.Errorf("reading the key of profile %q: %w", profile, err)
	}
	k, err := decodeKey(item.Data)
	if err != nil {
		return Key{}, &UnreadableError{Profile: profile, Found: err.Error()}
	}
	// A key broker finds is in the backend to read keys from from now on;
	// this records it for keys stored before broker recorded backends.
	_ = v.recordBackend()
	return k, nil
}

// decodeKey reads a stored key. Its errors describe what was found and
// never quote it: the data holds a secret.
func decodeKey(data []byte) (Key, error) {
	var head struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Key{}, fmt.Errorf("%d bytes that are not a JSON object", len(data))
	}
	var version int
	switch {
	case len(head.V) == 0:
		return Key{}, errors.New("a JSON object without a format version")
	case json.Unmarshal(head.V, &version) != nil:
		return Key{}, errors.New("a JSON object whose format version is not a small whole number")
	}
	if version != keyFormat {
		newer := ""
		if version > keyFormat {
			newer = ", written by a newer broker"
		}
		return Key{}, fmt.Errorf("format version %d (this broker reads version %d%s)", version, keyFormat, newer)
	}
	var s storedKey
	if json.Unmarshal(data, &s) != nil {
		return Key{}, fmt.Errorf("format version %d with fields of the wrong type", version)
	}
	switch {
	case s.AccessKeyID == "":
		return Key{}, fmt.Errorf("format version %d without an access key ID", version)
	case s.SecretAccessKey == "":
		return Key{}, fmt.Errorf("format version %d without a secret access key", version)
	}
	return Key{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, Added: s.Added}, nil
}

// UnreadableError says that the keychain holds an item for a profile's
// key that broker cannot read, and what the item is (never its content).
type UnreadableError struct {
	Profile string
	Found   string // such as "format version 2 (this broker reads version 1, ...)"
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("the keychain holds an item for the key of profile %q that broker cannot read: %s", e.Profile, e.Found)
}

// SetKey stores k as profile's key, replacing any earlier one (the caller
// decides whether it may). The first key stored records the backend.
func (v *Vault) SetKey(profile string, k Key) error {
	switch {
	case profile == "":
		return errors.New("storing a key: the profile name is empty")
	case k.AccessKeyID == "" || k.SecretAccessKey == "":
		return fmt.Errorf("storing the key of profile %q: both the access key ID and the secret are required", profile)
	}
	if err := v.recordBackend(); err != nil {
		return err
	}
	data, err := json.Marshal(storedKey{V: keyFormat, AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Added: k.Added})
	if err != nil {
		return fmt.Errorf("storing the key of profile %q: encoding: %w", profile, err)
	}
	err = v.set(keyring.Item{
		Key:         v.itemKey(kindKey, profile),
		Data:        data,
		Label:       fmt.Sprintf("%s: access key for profile %s", v.service, profile),
		Description: "AWS access key",
	})
	if err != nil {
		return fmt.Errorf("storing the key of profile %q: %w", profile, err)
	}
	return nil
}

// RemoveKey deletes profile's key; an absent key is ErrNotFound. Sessions
// minted from it stay: the caller drops them (Session.SourceKeyID).
func (v *Vault) RemoveKey(profile string) error {
	key := v.itemKey(kindKey, profile)
	// Not every backend reports removing an absent item, so look first.
	if _, err := v.get(key); err != nil {
		return fmt.Errorf("removing the key of profile %q: %w", profile, err)
	}
	if err := v.remove(key); err != nil {
		return fmt.Errorf("removing the key of profile %q: %w", profile, err)
	}
	return nil
}

// KeyProfiles returns the sorted names of the profiles with a stored key.
func (v *Vault) KeyProfiles() ([]string, error) {
	names, err := v.names(kindKey)
	if err != nil {
		return nil, fmt.Errorf("listing stored keys: %w", err)
	}
	return names, nil
}
