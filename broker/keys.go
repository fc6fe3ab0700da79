package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

// Errors from ValidateKey.
var (
	ErrTemporaryKey    = errors.New("this is a temporary (ASIA…) key: broker stores only long-term keys and mints sessions from them")
	ErrMalformedKey    = errors.New("malformed access key ID: expected AKIA followed by 16 letters or digits")
	ErrEmptySecret     = errors.New("empty secret access key")
	ErrMalformedSecret = fmt.Errorf("malformed secret access key: expected %d to %d printable characters without spaces (AWS's have 40)", minSecret, maxSecret)
)

// The lengths of secret ValidateKey accepts: AWS's are 40 characters, and
// other services that speak its API have their own.
const minSecret, maxSecret = 16, 128

// ValidateKey checks a long-term key pair's shape before anything is stored.
// Errors never contain the secret.
func ValidateKey(id, secret string) error {
	switch {
	case strings.HasPrefix(id, "ASIA"):
		return ErrTemporaryKey
	case len(id) != 20 || !strings.HasPrefix(id, "AKIA") || !isUpperAlnum(id[4:]):
		return ErrMalformedKey
	case secret == "":
		return ErrEmptySecret
	case len(secret) < minSecret || len(secret) > maxSecret || strings.ContainsFunc(secret, func(r rune) bool { return r <= ' ' || r > '~' }):
		return ErrMalformedSecret
	}
	return nil
}

func isUpperAlnum(s string) bool {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// KeyStoredError says that a profile has a key (or an item broker cannot
// read) stored already, which only an explicit replace may overwrite.
type KeyStoredError struct {
	Profile string
	KeyID   string // masked; "" for an item broker cannot read
	Err     error  // the *vault.UnreadableError, for an item broker cannot read
}

func (e *KeyStoredError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("profile %q has a key stored already (%s)", e.Profile, e.KeyID)
}

func (e *KeyStoredError) Unwrap() error { return e.Err }

// StoredKey returns the key profile has stored, ok false when there is
// none; a stored item broker cannot read is a *KeyStoredError.
func (b *Broker) StoredKey(profile string) (k vault.Key, ok bool, err error) {
	k, err = b.Vault.Key(profile)
	var unreadable *vault.UnreadableError
	switch {
	case err == nil:
		return k, true, nil
	case errors.Is(err, vault.ErrNotFound):
		return vault.Key{}, false, nil
	case errors.As(err, &unreadable):
		return vault.Key{}, false, &KeyStoredError{Profile: profile, Err: err}
	}
	return vault.Key{}, false, err
}

// AddKey stores a long-term key for profile. A key already stored there,
// or an item broker cannot read, is replaced only when replace is set
// (else a *KeyStoredError); replacedID is then the replaced key's ID ("" for
// none, or an unreadable item), and the sessions minted from it are dropped.
// Storing the very key that is stored changes nothing.
func (b *Broker) AddKey(profile string, k vault.Key, replace bool) (replacedID string, err error) {
	if err := ValidateKey(k.AccessKeyID, k.SecretAccessKey); err != nil {
		return "", err
	}
	old, stored, err := b.StoredKey(profile)
	var kerr *KeyStoredError
	switch {
	case errors.As(err, &kerr) && replace:
	case err != nil:
		return "", err
	case stored && old.AccessKeyID == k.AccessKeyID && old.SecretAccessKey == k.SecretAccessKey:
		return "", nil
	case stored && !replace:
		return "", &KeyStoredError{Profile: profile, KeyID: MaskKeyID(old.AccessKeyID)}
	}
	if k.Added.IsZero() {
		k.Added = b.now().UTC()
	}
	if err := b.Vault.SetKey(profile, k); err != nil {
		return "", err // vault says whose key
	}
	if stored && old.AccessKeyID != k.AccessKeyID {
		if _, err := b.DropKeySessions(old.AccessKeyID); err != nil {
			return old.AccessKeyID, err
		}
	}
	return old.AccessKeyID, nil
}

// RemoveKey deletes profile's key and every session minted from it. An item
// broker cannot read is deleted too (the caller has asked for it).
func (b *Broker) RemoveKey(profile string) (sessions int, err error) {
	k, stored, err := b.StoredKey(profile)
	var kerr *KeyStoredError
	switch {
	case errors.As(err, &kerr):
	case err != nil:
		return 0, err // vault says whose key
	case !stored:
		return 0, &NoKeyError{Profile: profile}
	}
	n := 0
	if stored {
		if n, err = b.DropKeySessions(k.AccessKeyID); err != nil {
			return n, err
		}
	}
	if err := b.Vault.RemoveKey(profile); err != nil {
		return n, err // vault says whose key
	}
	return n, nil
}

// DropKeySessions removes every cached session minted from the key keyID.
func (b *Broker) DropKeySessions(keyID string) (int, error) {
	return b.dropSessions(func(s vault.Session) bool { return s.SourceKeyID == keyID })
}

// ClearSessions drops cached sessions: all of them when profile is "";
// otherwise those that serve profile: the MFA session of the profile
// holding its key and its role sessions, which other profiles with the same
// role may have cached under their own name, and any recorded under its
// name. It returns how many it removed.
func (b *Broker) ClearSessions(profile string) (int, error) {
	if profile == "" {
		return b.dropSessions(func(vault.Session) bool { return true })
	}
	names := map[string]bool{profile: true}
	ids := map[string]bool{}
	if p, err := b.Plan(profile); err == nil {
		names[p.Root] = true
		if key, err := b.Vault.Key(p.Root); err == nil {
			for level := 0; level <= len(p.Roles); level++ {
				ids[cacheID(p, key, level)] = true
			}
		}
	}
	return b.dropSessions(func(s vault.Session) bool { return names[s.Profile] || ids[s.ID] })
}

func (b *Broker) dropSessions(match func(vault.Session) bool) (int, error) {
	all, err := b.Vault.Sessions()
	if err != nil {
		return 0, err // vault says what it was listing
	}
	n := 0
	for _, s := range all {
		if !match(s) {
			continue
		}
		if err := b.Vault.RemoveSession(s.ID); err != nil {
			return n, err // vault says which session
		}
		n++
	}
	return n, nil
}

// Identity is who a long-term key belongs to.
type Identity struct {
	Account  string
	ARN      string
	UserName string // "" for the account's root user
}

// Identity asks STS whom key belongs to (GetCallerIdentity needs no
// permission). It is how a key is verified before it is stored: an error is
// a RejectedKeyError when AWS refuses the key, an UnreachableError when no
// answer came.
func (b *Broker) Identity(ctx context.Context, profile string, k vault.Key) (Identity, error) {
	return b.identity(ctx, b.endpoints(profile), profile, k)
}

// ProfileKey is a key for a profile, as Identities takes them.
type ProfileKey struct {
	Profile string
	Key     vault.Key
}

// Identities asks, as Identity does, whom each key belongs to, with at most
// parallel questions at a time (at least one); who[i] and errs[i] answer
// keys[i]. The endpoints are looked up first, one profile after another,
// so only the STS calls run side by side.
func (b *Broker) Identities(ctx context.Context, keys []ProfileKey, parallel int) (who []Identity, errs []error) {
	who, errs = make([]Identity, len(keys)), make([]error, len(keys))
	plans := make([]Plan, len(keys))
	for i, k := range keys {
		plans[i] = b.endpoints(k.Profile)
	}
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			who[i], errs[i] = b.identity(ctx, plans[i], k.Profile, k.Key)
		})
	}
	wg.Wait()
	return who, errs
}

// identity is Identity at the endpoints of plan p.
func (b *Broker) identity(ctx context.Context, p Plan, profile string, k vault.Key) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := b.sts(Creds{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, p).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, classify(err, "sts", profile, k.AccessKeyID)
	}
	id := Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}
	// arn:aws:iam::123456789012:user/path/name → name
	if _, resource, ok := strings.Cut(id.ARN, ":user/"); ok {
		id.UserName = resource[strings.LastIndex(resource, "/")+1:]
	}
	return id, nil
}

// MFADevices lists the MFA device serials of the IAM user owning key, named
// explicitly rather than implied by the caller.
func (b *Broker) MFADevices(ctx context.Context, profile string, k vault.Key) ([]string, error) {
	who, err := b.Identity(ctx, profile, k)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	in := &iam.ListMFADevicesInput{}
	if who.UserName != "" {
		in.UserName = aws.String(who.UserName)
	}
	out, err := b.iam(Creds{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, b.endpoints(profile)).
		ListMFADevices(ctx, in)
	if err != nil {
		return nil, classify(err, "iam", profile, k.AccessKeyID)
	}
	var serials []string
	for _, d := range out.MFADevices {
		serials = append(serials, aws.ToString(d.SerialNumber))
	}
	return serials, nil
}

// ProfileStatus is one row of `broker list`: nothing secret.
type ProfileStatus struct {
	Name      string          `json:"name"`
	InConfig  bool            `json:"in_config"`
	KeyID     string          `json:"key_id,omitempty"` // masked
	KeyAdded  *time.Time      `json:"key_added,omitempty"`
	MFASerial string          `json:"mfa_serial,omitempty"`      // the effective one, as export uses it
	MFAFrom   string          `json:"mfa_serial_from,omitempty"` // the profile (or [default], AWS_MFA_SERIAL) that sets it
	NoMFA     bool            `json:"no_mfa,omitempty"`
	RoleARN   string          `json:"role_arn,omitempty"`
	Source    string          `json:"source_profile,omitempty"`
	Problem   string          `json:"problem,omitempty"`
	Notes     []string        `json:"notes,omitempty"` // what broker makes of the config differently than asked
	Sessions  []SessionStatus `json:"sessions"`
}

// configNotes reports the keys of p that broker does not act on and that
// are not the AWS CLI's or SDKs' own settings: never ignored silently.
func configNotes(p awsconfig.Profile) []string {
	var notes []string
	// parent_profile is not ignored: Plan refuses it (ParentProfileError).
	unknown := slices.DeleteFunc(awsconfig.KeysOf(p.Values, awsconfig.KeyUnknown), func(k string) bool { return k == "parent_profile" })
	if keys := unknown; len(keys) > 0 {
		notes = append(notes, "unknown config keys, ignored: "+strings.Join(keys, ", "))
	}
	if keys := awsconfig.KeysOf(p.Values, awsconfig.KeyUnsupported); len(keys) > 0 {
		notes = append(notes, "not supported by broker, ignored: "+strings.Join(keys, ", "))
	}
	return notes
}

// SessionStatus is a cached session as `broker list` shows it.
type SessionStatus struct {
	RoleARN    string    `json:"role_arn,omitempty"`
	Expiration time.Time `json:"expiration"`
	Remaining  string    `json:"remaining"`
}

// Status lists every profile in the config or the keychain.
func (b *Broker) Status() ([]ProfileStatus, error) {
	keyed, err := b.Vault.KeyProfiles()
	if err != nil {
		return nil, err // vault says what it was listing
	}
	sessions, err := b.Vault.Sessions()
	if err != nil {
		return nil, err
	}
	rows := map[string]*ProfileStatus{}
	var order []string
	row := func(name string) *ProfileStatus {
		if r, ok := rows[name]; ok {
			return r
		}
		r := &ProfileStatus{Name: name, Sessions: []SessionStatus{}}
		rows[name] = r
		order = append(order, name)
		return r
	}
	for _, name := range b.Config.ProfileNames() {
		r := row(name)
		r.InConfig = true
		p, err := b.Config.Profile(name)
		if err != nil {
			r.Problem = err.Error()
			continue
		}
		r.MFASerial, r.NoMFA, r.RoleARN, r.Source = p.MFASerial, p.NoMFA, p.RoleARN, p.SourceProfile
		r.Notes = configNotes(p)
		plan, err := b.Plan(name)
		if err != nil {
			r.Problem = err.Error()
			continue
		}
		r.MFASerial, r.MFAFrom, r.NoMFA = plan.MFASerial, plan.MFAFrom, plan.NoMFA
		if plan.MFASerial == "" && !plan.NoMFA {
			r.Problem = (&NoMFAError{Profile: name}).Error()
		} else if err := checkDurations(plan); err != nil {
			r.Problem = err.Error()
		}
		for _, role := range plan.Roles {
			if role.Capped != 0 {
				r.Notes = append(r.Notes, fmt.Sprintf("duration_seconds %s of profile %q is capped to %s: STS grants a chained role 1h at most",
					role.Capped, role.Profile, role.Duration))
			}
		}
	}
	for _, name := range keyed {
		k, err := b.Vault.Key(name)
		var unreadable *vault.UnreadableError
		if errors.As(err, &unreadable) {
			row(name).Problem = err.Error()
			continue
		}
		if err != nil {
			continue
		}
		r := row(name)
		r.KeyID = MaskKeyID(k.AccessKeyID)
		if !k.Added.IsZero() {
			added := k.Added
			r.KeyAdded = &added
		}
	}
	now := b.now()
	for _, s := range sessions {
		left := s.Expiration.Sub(now)
		if left <= 0 {
			continue
		}
		row(s.Profile).Sessions = append(row(s.Profile).Sessions, SessionStatus{
			RoleARN: s.RoleARN, Expiration: s.Expiration, Remaining: left.Round(time.Minute).String(),
		})
	}
	sort.Strings(order)
	out := make([]ProfileStatus, 0, len(order))
	for _, name := range order {
		out = append(out, *rows[name])
	}
	return out, nil
}
