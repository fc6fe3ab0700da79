package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
// A stored key that does not decode is reported as not found (so that
// storing a new one is the way out) but left in place.
func (v *Vault) Key(profile string) (Key, error) {
	item, err := v.get(v.itemKey(kindKey, profile))
	if err != nil {
		return Key{}, fmt.Errorf("reading the key of profile %q: %w", profile, err)
	}
	var s storedKey
	if json.Unmarshal(item.Data, &s) != nil || s.V != keyFormat || s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return Key{}, fmt.Errorf("the key of profile %q is stored in a form broker cannot read: %w", profile, ErrNotFound)
	}
	return Key{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, Added: s.Added}, nil
}

// SetKey stores k as profile's key, replacing any earlier one.
func (v *Vault) SetKey(profile string, k Key) error {
	switch {
	case profile == "":
		return errors.New("storing a key: the profile name is empty")
	case k.AccessKeyID == "" || k.SecretAccessKey == "":
		return fmt.Errorf("storing the key of profile %q: both the access key ID and the secret are required", profile)
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
	if err := v.remove(key); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("removing the key of profile %q: %w", profile, err)
	}
	return nil
}

// KeyProfiles returns the sorted names of the profiles with a stored key.
func (v *Vault) KeyProfiles() ([]string, error) {
	keys, err := v.keys()
	if err != nil {
		return nil, fmt.Errorf("listing stored keys: %w", err)
	}
	names := v.names(keys, kindKey)
	slices.Sort(names)
	// The Secret Service can hold two items under one key.
	return append([]string{}, slices.Compact(names)...), nil
}
