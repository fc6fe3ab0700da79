// Package lifecycle manages IAM access keys: `broker keys`, `rotate`,
// `revoke` and the stored-key part of `audit`. It uses package broker for
// the profile's key and its MFA session, and never prints, prompts or exits.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

// The key lifecycle (`broker keys`, `rotate`, `revoke`) manages the IAM
// access keys of the user behind a profile's stored key. Every IAM call:
//   - is signed with the profile's MFA session (IAM refuses session
//     credentials minted without MFA), minted once per command, so one code
//     serves a whole command even when the stored key changes half-way;
//   - names the user explicitly (found with GetCallerIdentity signed by the
//     long-term key), never relying on the caller being implied.

// DefaultKeyMaxAge is the age in days past which `broker keys` warns;
// a profile's broker_key_max_age overrides it.
const DefaultKeyMaxAge = 90

// MaxKeysPerUser is IAM's quota of access keys per user.
const MaxKeysPerUser = 2

// Key statuses as IAM names them.
const (
	StatusActive   = string(iamtypes.StatusTypeActive)
	StatusInactive = string(iamtypes.StatusTypeInactive)
)

// Session is an open IAM session for the user owning a profile's stored key.
type Session struct {
	m       *Manager
	Profile string    // the profile holding the key (the plan's root)
	Key     vault.Key // the key the keychain holds for Profile
	User    broker.Identity
	iam     iamAPI
}

// Open finds who owns the key behind profile name and opens an IAM
// client signed with its MFA session (asking for at most one code).
func (m *Manager) Open(ctx context.Context, name string) (*Session, error) {
	p, err := m.Plan(name)
	if err != nil {
		return nil, err
	}
	key, err := m.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, &broker.NoKeyError{Profile: p.Root}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the key of profile %q: %w", p.Root, err)
	}
	if p.MFASerial == "" {
		return nil, &broker.NoMFAError{Profile: name}
	}
	// Who first: it needs no code, so a dead key fails before one is asked.
	who, err := m.Identity(ctx, p.Root, key)
	if err != nil {
		return nil, err
	}
	if who.UserName == "" {
		return nil, fmt.Errorf("the key of profile %q belongs to %s, not an IAM user: broker manages IAM users' keys only", p.Root, who.ARN)
	}
	_, _, creds, err := m.MFASession(ctx, name)
	if err != nil {
		return nil, err
	}
	return &Session{m: m, Profile: p.Root, Key: key, User: who, iam: m.IAM(creds)}, nil
}

// AccessKey is one of the user's access keys; nothing secret.
type AccessKey struct {
	ID          string     `json:"access_key_id"`
	Status      string     `json:"status"` // Active or Inactive
	Created     time.Time  `json:"created"`
	AgeDays     int        `json:"age_days"`
	LastUsed    *time.Time `json:"last_used,omitempty"` // nil: never (or not recorded)
	LastService string     `json:"last_used_service,omitempty"`
	LastRegion  string     `json:"last_used_region,omitempty"`
	InKeychain  bool       `json:"in_keychain"` // the key the profile's keychain item holds
	OverMaxAge  bool       `json:"over_max_age"`
}

// KeyList is what `broker keys PROFILE` shows.
type KeyList struct {
	Profile    string      `json:"profile"`
	User       string      `json:"user"`
	Account    string      `json:"account"`
	MaxAgeDays int         `json:"max_age_days"`
	Keys       []AccessKey `json:"keys"`
}

// MaxKeyAge returns the age threshold in days for profile: its
// broker_key_max_age (or that of the profile holding its key), else
// DefaultKeyMaxAge.
func (m *Manager) MaxKeyAge(name string) (int, error) {
	names := []string{name}
	if p, err := m.Plan(name); err == nil && p.Root != name {
		names = append(names, p.Root)
	}
	for _, n := range names {
		prof, err := m.Config.Profile(n)
		if err != nil {
			continue // a profile only the keychain knows
		}
		if v, ok := prof.Values["broker_key_max_age"]; ok {
			days, err := ParseMaxAge(v)
			if err != nil {
				return 0, fmt.Errorf("profile %q: broker_key_max_age: %w", n, err)
			}
			return days, nil
		}
	}
	return DefaultKeyMaxAge, nil
}

// ParseMaxAge reads an age threshold: whole days, optionally with a "d".
func ParseMaxAge(s string) (int, error) {
	days, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "d"))
	if err != nil || days < 1 || days > 36500 {
		return 0, fmt.Errorf("%q is not a number of days (1 to 36500)", s)
	}
	return days, nil
}

// Keys lists every access key of the user, oldest first, with when and
// where each was last used, and flags those older than maxAgeDays.
func (l *Session) Keys(ctx context.Context, maxAgeDays int) (KeyList, error) {
	keys, err := l.listKeys(ctx)
	if err != nil {
		return KeyList{}, err
	}
	for i := range keys {
		k := &keys[i]
		k.OverMaxAge = k.AgeDays > maxAgeDays
		if err := l.lastUsed(ctx, k); err != nil {
			return KeyList{}, err
		}
	}
	return KeyList{Profile: l.Profile, User: l.User.UserName, Account: l.User.Account, MaxAgeDays: maxAgeDays, Keys: keys}, nil
}

// lastUsed fills in when, where and with which service k was last used.
func (l *Session) lastUsed(ctx context.Context, k *AccessKey) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := l.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.ID)})
	if err != nil {
		return fmt.Errorf("asking IAM when key %s was last used: %w", broker.MaskKeyID(k.ID), l.classify(err))
	}
	if u := out.AccessKeyLastUsed; u != nil {
		if u.LastUsedDate != nil {
			t := u.LastUsedDate.UTC()
			k.LastUsed = &t
		}
		k.LastService, k.LastRegion = notNA(u.ServiceName), notNA(u.Region)
	}
	return nil
}

// notNA: IAM says "N/A" for a key never used.
func notNA(s *string) string {
	if v := aws.ToString(s); v != "N/A" {
		return v
	}
	return ""
}

// listKeys returns the user's keys, oldest first, without last-used data.
func (l *Session) listKeys(ctx context.Context) ([]AccessKey, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := l.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(l.User.UserName)})
	if err != nil {
		return nil, fmt.Errorf("listing the access keys of IAM user %q: %w", l.User.UserName, l.classify(err))
	}
	now := l.m.now()
	keys := []AccessKey{}
	for _, m := range out.AccessKeyMetadata {
		k := AccessKey{ID: aws.ToString(m.AccessKeyId), Status: string(m.Status)}
		if m.CreateDate != nil {
			k.Created = m.CreateDate.UTC()
			k.AgeDays = max(0, int(now.Sub(k.Created)/(24*time.Hour)))
		}
		k.InKeychain = k.ID == l.Key.AccessKeyID
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b AccessKey) int { return a.Created.Compare(b.Created) })
	return keys, nil
}

func findKey(keys []AccessKey, id string) (AccessKey, bool) {
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return AccessKey{}, false
}

// KeyAction is a change `broker keys` makes to one key.
type KeyAction string

// The changes of `broker keys`, as in the IAM console.
const (
	ActionActivate   KeyAction = "activate"
	ActionDeactivate KeyAction = "deactivate"
	ActionDelete     KeyAction = "delete"
)

// Reasons a KeyChangeError gives.
var (
	ErrKeyActive   = errors.New("only an inactive key can be deleted")
	ErrKeyInUse    = errors.New("it is the key the keychain holds for the profile")
	ErrKeyNotUsers = errors.New("it is not one of the user's access keys")
)

// KeyChangeError refuses a change of `broker keys`; nothing was changed.
type KeyChangeError struct {
	Profile string
	User    string
	KeyID   string
	Action  KeyAction
	Err     error // ErrKeyActive, ErrKeyInUse or ErrKeyNotUsers
}

func (e *KeyChangeError) Error() string {
	return fmt.Sprintf("not going to %s key %s of IAM user %q: %v", e.Action, e.KeyID, e.User, e.Err)
}

func (e *KeyChangeError) Unwrap() error { return e.Err }

// CheckKeyChange says whether action may be done to key id, as the console
// flow has it: only an inactive key may be deleted, and the keychain's own
// key is neither deactivated nor deleted without force. It returns the key.
func (l *Session) CheckKeyChange(ctx context.Context, action KeyAction, id string, force bool) (AccessKey, error) {
	keys, err := l.listKeys(ctx)
	if err != nil {
		return AccessKey{}, err
	}
	k, ok := findKey(keys, id)
	refuse := func(reason error) (AccessKey, error) {
		return k, &KeyChangeError{Profile: l.Profile, User: l.User.UserName, KeyID: id, Action: action, Err: reason}
	}
	switch {
	case !ok:
		return refuse(ErrKeyNotUsers)
	case action == ActionActivate:
		return k, nil
	case action == ActionDelete && k.Status != StatusInactive:
		return refuse(ErrKeyActive)
	case k.InKeychain && !force:
		return refuse(ErrKeyInUse)
	}
	return k, nil
}

// KeyChange is what ChangeKey did.
type KeyChange struct {
	Key              AccessKey // as it was before
	Sessions         int       // cached sessions of the key dropped
	RemovedFromVault bool      // the deleted key was the keychain's, and left it
}

// ChangeKey checks and then makes the change. Deactivating or deleting the
// keychain's own key (force) also drops the sessions cached from it, since
// broker must stop handing them out; deleting it also removes it from the
// keychain, where it could no longer mint anything.
func (l *Session) ChangeKey(ctx context.Context, action KeyAction, id string, force bool) (KeyChange, error) {
	k, err := l.CheckKeyChange(ctx, action, id, force)
	if err != nil {
		return KeyChange{}, err
	}
	res := KeyChange{Key: k}
	switch action {
	case ActionActivate:
		err = l.setStatus(ctx, id, StatusActive)
	case ActionDeactivate:
		err = l.setStatus(ctx, id, StatusInactive)
	case ActionDelete:
		err = l.deleteKey(ctx, id)
	default:
		return KeyChange{}, fmt.Errorf("unknown key action %q", action)
	}
	if err != nil || !k.InKeychain || action == ActionActivate {
		return res, err
	}
	res.Sessions, _, err = l.dropSessions(id)
	if err != nil || action != ActionDelete {
		return res, err
	}
	if err := l.m.Vault.RemoveKey(l.Profile); err != nil && !errors.Is(err, vault.ErrNotFound) {
		return res, fmt.Errorf("removing the deleted key from the keychain: %w", err)
	}
	res.RemovedFromVault = true
	return res, nil
}

func (l *Session) setStatus(ctx context.Context, id, status string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := l.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(l.User.UserName), AccessKeyId: aws.String(id), Status: iamtypes.StatusType(status),
	})
	if err != nil {
		return fmt.Errorf("setting key %s of IAM user %q %s: %w", broker.MaskKeyID(id), l.User.UserName, status, l.classify(err))
	}
	return nil
}

// deleteKey deletes key id; a key already gone is not an error, so that a
// resumed rotation can repeat the step.
func (l *Session) deleteKey(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := l.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(l.User.UserName), AccessKeyId: aws.String(id)})
	var gone *iamtypes.NoSuchEntityException
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("deleting key %s of IAM user %q: %w", broker.MaskKeyID(id), l.User.UserName, l.classify(err))
	}
	return nil
}

// dropSessions drops every cached session minted from key id and returns
// how many there were and when the last of them expires.
func (l *Session) dropSessions(id string) (int, time.Time, error) {
	var latest time.Time
	n, err := l.m.DropSessions(func(s vault.Session) bool {
		if s.SourceKeyID != id {
			return false
		}
		if s.Expiration.After(latest) {
			latest = s.Expiration
		}
		return true
	})
	return n, latest, err
}

// classify: IAM is called with the MFA session minted from the stored key.
func (l *Session) classify(err error) error {
	return broker.Classify(err, "iam", l.Profile, l.Key.AccessKeyID)
}

func isNoSuchEntity(err error) bool {
	var gone *iamtypes.NoSuchEntityException
	return errors.As(err, &gone)
}

// ValidateKeyID checks the shape of a long-term access key ID.
func ValidateKeyID(id string) error {
	switch {
	case strings.HasPrefix(id, "ASIA"):
		return broker.ErrTemporaryKey
	case len(id) != 20 || !strings.HasPrefix(id, "AKIA") || strings.ContainsFunc(id[4:], notUpperAlnum):
		return broker.ErrMalformedKey
	}
	return nil
}

func notUpperAlnum(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }
