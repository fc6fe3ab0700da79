package vault

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/99designs/keyring"
)

// Session is a cached set of STS credentials.
type Session struct {
	ID          string // cache ID chosen by the caller (a hex hash); unique
	Profile     string // profile it was minted for
	SourceKeyID string // ID of the long-term key it derives from
	RoleARN     string // "" for an MFA session

	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

type storedSession struct {
	V               int       `json:"v"`
	ID              string    `json:"id"`
	Profile         string    `json:"profile"`
	SourceKeyID     string    `json:"source_key_id"`
	RoleARN         string    `json:"role_arn,omitempty"`
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Expiration      time.Time `json:"expiration"`
}

const sessionFormat = 1

// Session returns the cached session id, or an error wrapping ErrNotFound.
// A cached entry that does not decode is removed and reported as not found.
func (v *Vault) Session(id string) (Session, error) {
	key := v.itemKey(kindSession, id)
	item, err := v.get(key)
	if err != nil {
		return Session{}, fmt.Errorf("reading cached session %s: %w", id, err)
	}
	s, ok := decodeSession(id, item.Data)
	if ok {
		return s, nil
	}
	if err := v.remove(key); err != nil {
		return Session{}, fmt.Errorf("cached session %s does not decode: %w; removing it: %w", id, ErrNotFound, err)
	}
	return Session{}, fmt.Errorf("cached session %s did not decode and is removed: %w", id, ErrNotFound)
}

// SetSession caches s under s.ID, replacing any earlier entry.
func (v *Vault) SetSession(s Session) error {
	switch {
	case s.ID == "":
		return fmt.Errorf("caching a session of profile %q: the session ID is empty", s.Profile)
	case s.AccessKeyID == "" || s.SecretAccessKey == "" || s.SessionToken == "":
		return fmt.Errorf("caching session %s of profile %q: incomplete credentials", s.ID, s.Profile)
	case s.Expiration.IsZero():
		return fmt.Errorf("caching session %s of profile %q: no expiration", s.ID, s.Profile)
	}
	data, err := json.Marshal(storedSession{
		V:               sessionFormat,
		ID:              s.ID,
		Profile:         s.Profile,
		SourceKeyID:     s.SourceKeyID,
		RoleARN:         s.RoleARN,
		AccessKeyID:     s.AccessKeyID,
		SecretAccessKey: s.SecretAccessKey,
		SessionToken:    s.SessionToken,
		Expiration:      s.Expiration,
	})
	if err != nil {
		return fmt.Errorf("caching session %s of profile %q: encoding: %w", s.ID, s.Profile, err)
	}
	kind := "MFA session"
	if s.RoleARN != "" {
		kind = "role session"
	}
	err = v.set(keyring.Item{
		Key:         v.itemKey(kindSession, s.ID),
		Data:        data,
		Label:       fmt.Sprintf("%s: %s for profile %s", v.service, kind, s.Profile),
		Description: "AWS STS session",
	})
	if err != nil {
		return fmt.Errorf("caching session %s of profile %q: %w", s.ID, s.Profile, err)
	}
	return nil
}

// RemoveSession drops the cached session id; an absent one is not an error.
func (v *Vault) RemoveSession(id string) error {
	if err := v.remove(v.itemKey(kindSession, id)); err != nil {
		return fmt.Errorf("removing cached session %s: %w", id, err)
	}
	return nil
}

// Sessions returns every cached session of this namespace, expired ones
// included, sorted by profile. Entries that do not decode are removed.
func (v *Vault) Sessions() ([]Session, error) {
	ids, err := v.names(kindSession)
	if err != nil {
		return nil, fmt.Errorf("listing cached sessions: %w", err)
	}
	all := []Session{}
	for _, id := range ids {
		key := v.itemKey(kindSession, id)
		item, err := v.get(key)
		if errors.Is(err, ErrNotFound) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("reading cached session %s: %w", id, err)
		}
		s, ok := decodeSession(id, item.Data)
		if !ok {
			if err := v.remove(key); err != nil {
				return nil, fmt.Errorf("removing cached session %s, which does not decode: %w", id, err)
			}
			continue
		}
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.Profile, b.Profile), cmp.Compare(a.RoleARN, b.RoleARN), cmp.Compare(a.ID, b.ID))
	})
	return all, nil
}

// decodeSession reads a stored session. The ID comes from the item key.
func decodeSession(id string, data []byte) (Session, bool) {
	var s storedSession
	if json.Unmarshal(data, &s) != nil || s.V != sessionFormat ||
		s.AccessKeyID == "" || s.SecretAccessKey == "" || s.SessionToken == "" || s.Expiration.IsZero() {
		return Session{}, false
	}
	return Session{
		ID:              id,
		Profile:         s.Profile,
		SourceKeyID:     s.SourceKeyID,
		RoleARN:         s.RoleARN,
		AccessKeyID:     s.AccessKeyID,
		SecretAccessKey: s.SecretAccessKey,
		SessionToken:    s.SessionToken,
		Expiration:      s.Expiration,
	}, true
}
