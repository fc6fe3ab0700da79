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
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

// The key lifecycle (`broker keys`, `rotate`, `revoke`) manages the IAM
// access keys of the user behind a profile's stored key, and with the
// permission the keys of the account's other users. Every IAM call:
//   - is signed with the profile's MFA session (IAM refuses session
//     credentials minted without MFA), minted once per command, so one code
//     serves a whole command even when the stored key changes half-way;
//     the one exception is GetAccessKeyLastUsed on the profile's own key
//     when no session is cached (usecheck.go), signed by the key itself;
//   - names the user explicitly (the profile's own, found with
//     GetCallerIdentity signed by the long-term key; or the one asked for,
//     or the owner IAM names for a key), never relying on the caller being
//     implied.

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
	own     *ownUse // the key's last use, read before broker's own calls (readOwnUse)
}

// Open finds who owns the key behind profile name and opens an IAM
// client signed with its MFA session (asking for at most one code).
func (m *Manager) Open(ctx context.Context, name string) (*Session, error) {
	return m.open(ctx, name, nil)
}

// OpenWithOwnUse is Open that first reads where the profile's key was last
// used, before Open's own calls signed by the key hide it: listings then
// show that use for the keychain's key (or that it cannot be seen: the
// AccessKey's UseUnseen).
func (m *Manager) OpenWithOwnUse(ctx context.Context, name string) (*Session, error) {
	u, err := m.readOwnUse(ctx, name)
	if err != nil {
		return nil, err
	}
	return m.open(ctx, name, &u)
}

func (m *Manager) open(ctx context.Context, name string, own *ownUse) (*Session, error) {
	p, err := m.Plan(name)
	if err != nil {
		return nil, err
	}
	key, err := m.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, &broker.NoKeyError{Profile: p.Root}
	}
	if err != nil {
		return nil, err // vault says whose key
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
	return &Session{m: m, Profile: p.Root, Key: key, User: who, iam: m.iamFor(creds, p), own: own}, nil
}

// AccessKey is one access key of an IAM user; nothing secret.
type AccessKey struct {
	User        string     `json:"user"`
	ID          string     `json:"access_key_id"` // "" for a root key known only from the credential report
	Status      string     `json:"status"`        // Active or Inactive
	Created     time.Time  `json:"created"`
	AgeDays     int        `json:"age_days"`
	LastUsed    *time.Time `json:"last_used"` // nil: never (or not recorded)
	LastService string     `json:"last_used_service"`
	LastRegion  string     `json:"last_used_region"`
	UseUnseen   string     `json:"last_used_unseen,omitempty"` // why the use before broker's own calls is not known
	Description string     `json:"description"`                // the console's description tag
	RotatedOut  *time.Time `json:"rotated_out,omitempty"`      // when `broker rotate` left it inactive
	InKeychain  bool       `json:"in_keychain"`                // the key the profile's keychain item holds
	OverMaxAge  bool       `json:"over_max_age"`
	Root        bool       `json:"root,omitempty"` // the account's root user's key
	Flags       []string   `json:"flags"`
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
// broker_key_max_age, else that of the profile holding its key, else
// [default]'s (the base of every profile, as for broker's other settings),
// else DefaultKeyMaxAge.
func (m *Manager) MaxKeyAge(name string) (int, error) {
	names := []string{name}
	if p, err := m.Plan(name); err == nil && p.Root != name {
		names = append(names, p.Root)
	}
	if !slices.Contains(names, "default") {
		names = append(names, "default")
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

// Keys lists every access key of the profile's user, as KeysOf does.
func (l *Session) Keys(ctx context.Context, maxAgeDays int) (KeyList, error) {
	return l.KeysOf(ctx, l.User.UserName, maxAgeDays)
}

// KeysOf lists every access key of IAM user user, oldest first, with when
// and where each was last used and its description, and flags them
// (Flag*, with DefaultUnusedDays).
func (l *Session) KeysOf(ctx context.Context, user string, maxAgeDays int) (KeyList, error) {
	keys, err := l.listKeys(ctx, user)
	if err != nil {
		return KeyList{}, err
	}
	tags, err := l.userTags(ctx, user)
	if err != nil {
		return KeyList{}, err
	}
	for i := range keys {
		k := &keys[i]
		if err := l.lastUsed(ctx, k); err != nil {
			return KeyList{}, err
		}
		tags.describe(k)
	}
	flag(keys, l.m.now(), maxAgeDays, DefaultUnusedDays)
	return KeyList{Profile: l.Profile, User: user, Account: l.User.Account, MaxAgeDays: maxAgeDays, Keys: keys}, nil
}

// lastUsed fills in when, where and with which service k was last used:
// for the key whose use was read before broker's own calls, that.
func (l *Session) lastUsed(ctx context.Context, k *AccessKey) error {
	if u := l.own; u != nil && u.key.ID == k.ID {
		k.LastUsed, k.LastService, k.LastRegion, k.UseUnseen = u.key.LastUsed, u.key.LastService, u.key.LastRegion, u.unseen
		if u.unseen != "" {
			k.LastUsed, k.LastService, k.LastRegion = nil, "", ""
		}
		return nil
	}
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

// listKeys returns the keys of IAM user user, oldest first, without
// last-used data.
func (l *Session) listKeys(ctx context.Context, user string) ([]AccessKey, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	now := l.m.now()
	keys := []AccessKey{}
	pages := iam.NewListAccessKeysPaginator(l.iam, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the access keys of IAM user %q: %w", user, l.classify(err))
		}
		for _, m := range out.AccessKeyMetadata {
			k := AccessKey{User: user, ID: aws.ToString(m.AccessKeyId), Status: string(m.Status), Flags: []string{}}
			if m.CreateDate != nil {
				k.Created = m.CreateDate.UTC()
				k.AgeDays = daysSince(now, k.Created)
			}
			k.InKeychain = k.ID == l.Key.AccessKeyID
			keys = append(keys, k)
		}
	}
	slices.SortStableFunc(keys, func(a, b AccessKey) int { return a.Created.Compare(b.Created) })
	return keys, nil
}

func daysSince(now, t time.Time) int { return max(0, int(now.Sub(t)/(24*time.Hour))) }

func findKey(keys []AccessKey, id string) (AccessKey, bool) {
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return AccessKey{}, false
}

// classify: IAM is called with the MFA session minted from the stored key.
func (l *Session) classify(err error) error {
	return broker.Classify(err, "iam", l.Profile, l.Key.AccessKeyID)
}

// isNoSuchEntity: IAM says there is no such user or key. Some calls
// (GetAccessKeyLastUsed) do not model the error, so it comes by code.
func isNoSuchEntity(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchEntity"
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
