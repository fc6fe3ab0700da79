package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/keyring"
)

// Rotation is the journal of a key rotation in progress for one profile,
// kept in the keychain under "<service>:rotation:<profile>" so that a broker
// killed half-way can finish or undo it next time. It holds the new key's
// secret from the moment IAM returns it, before anything else can fail.
type Rotation struct {
	Profile  string
	State    string    // the step reached; its meaning is the caller's
	OldKeyID string    // the key being replaced
	Known    []string  // IDs of the user's keys when the rotation began
	NewKey   Key       // the new key, once created
	KeepOld  bool      // leave the old key inactive instead of deleting it
	Started  time.Time // when the rotation began
}

type storedRotation struct {
	V        int       `json:"v"`
	State    string    `json:"state"`
	OldKeyID string    `json:"old_key_id"`
	Known    []string  `json:"known,omitempty"`
	NewKeyID string    `json:"new_key_id,omitempty"`
	NewSec   string    `json:"new_secret_access_key,omitempty"`
	NewAdded time.Time `json:"new_added,omitzero"`
	KeepOld  bool      `json:"keep_old,omitempty"`
	Started  time.Time `json:"started"`
}

const (
	kindRotation   = "rotation"
	rotationFormat = 1
)

// Rotation returns the journal of profile's rotation in progress, or an
// error wrapping ErrNotFound. A journal that does not decode is reported as
// not found and left in place.
func (v *Vault) Rotation(profile string) (Rotation, error) {
	item, err := v.get(v.itemKey(kindRotation, profile))
	if err != nil {
		return Rotation{}, fmt.Errorf("reading the rotation journal of profile %q: %w", profile, err)
	}
	var s storedRotation
	if json.Unmarshal(item.Data, &s) != nil || s.V != rotationFormat || s.State == "" || s.OldKeyID == "" ||
		(s.NewKeyID == "") != (s.NewSec == "") {
		return Rotation{}, fmt.Errorf("the rotation journal of profile %q is stored in a form broker cannot read: %w", profile, ErrNotFound)
	}
	return Rotation{
		Profile:  profile,
		State:    s.State,
		OldKeyID: s.OldKeyID,
		Known:    s.Known,
		NewKey:   Key{AccessKeyID: s.NewKeyID, SecretAccessKey: s.NewSec, Added: s.NewAdded},
		KeepOld:  s.KeepOld,
		Started:  s.Started,
	}, nil
}

// SetRotation stores r as the journal of r.Profile, replacing any earlier one.
func (v *Vault) SetRotation(r Rotation) error {
	switch {
	case r.Profile == "":
		return errors.New("storing a rotation journal: the profile name is empty")
	case r.State == "" || r.OldKeyID == "":
		return fmt.Errorf("storing the rotation journal of profile %q: the state and the old key ID are required", r.Profile)
	case (r.NewKey.AccessKeyID == "") != (r.NewKey.SecretAccessKey == ""):
		return fmt.Errorf("storing the rotation journal of profile %q: the new key needs both its ID and its secret", r.Profile)
	}
	data, err := json.Marshal(storedRotation{
		V: rotationFormat, State: r.State, OldKeyID: r.OldKeyID, Known: r.Known,
		NewKeyID: r.NewKey.AccessKeyID, NewSec: r.NewKey.SecretAccessKey, NewAdded: r.NewKey.Added,
		KeepOld: r.KeepOld, Started: r.Started,
	})
	if err != nil {
		return fmt.Errorf("storing the rotation journal of profile %q: encoding: %w", r.Profile, err)
	}
	err = v.set(keyring.Item{
		Key:         v.itemKey(kindRotation, r.Profile),
		Data:        data,
		Label:       fmt.Sprintf("%s: key rotation in progress for profile %s", v.service, r.Profile),
		Description: "AWS access key rotation",
	})
	if err != nil {
		return fmt.Errorf("storing the rotation journal of profile %q: %w", r.Profile, err)
	}
	return nil
}

// RemoveRotation drops profile's journal; an absent one is not an error.
func (v *Vault) RemoveRotation(profile string) error {
	key := v.itemKey(kindRotation, profile)
	// Not every backend reports removing an absent item, so look first.
	if _, err := v.get(key); errors.Is(err, ErrNotFound) {
		return nil
	}
	if err := v.remove(key); err != nil {
		return fmt.Errorf("removing the rotation journal of profile %q: %w", profile, err)
	}
	return nil
}
