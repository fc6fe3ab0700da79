package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

// Seed step 3: before the old key is deactivated, make sure nothing else
// still uses it. broker only ever signs STS calls with a long-term key, in
// us-east-1 (GetCallerIdentity) and in the regions of the profiles it
// serves (GetSessionToken, AssumeRole). IAM records a key's last use (when,
// service, region): a use by another service, or by STS in another region,
// was not broker's.
//
// IAM keeps only the last use, so any call signed by the key hides the use
// before it. The use is therefore read before broker signs anything with
// the key (readOwnUse):
//   - with the MFA session, if one is cached: its calls are not the key's,
//     and IAM shows every use since broker minted it;
//   - else signed by the key itself (GetAccessKeyLastUsed on one's own key,
//     which `broker policy`'s MFA statement exempts). An IAM that records
//     the use before answering (moto does; AWS may) then answers with this
//     very call: the earlier use cannot be seen;
//   - if IAM refuses that without MFA, with an MFA session minted for it,
//     whose GetSessionToken is then the last use IAM shows.
//
// When only broker's own call is visible, the check does not pass: rotate
// stops before any change with an UnseenUseError, and --force goes on.

// ownCallWindow is how long before a call IAM may date the call itself: AWS
// accepts requests signed up to 5 minutes off its clock and may round the
// time of last use down to the minute.
const ownCallWindow = 6 * time.Minute

// UseError stops a rotation whose old key was last used by something other
// than broker; nothing was changed.
type UseError struct {
	Profile string
	KeyID   string // masked
	Service string
	Region  string
	When    time.Time
	Regions []string // where broker uses the key
}

func (e *UseError) Error() string {
	return fmt.Sprintf("the key %s of profile %q was last used on %s by %s in %s, which is not broker's doing "+
		"(broker uses the key only for STS, in %s): something else still depends on it; nothing changed",
		e.KeyID, e.Profile, e.When.UTC().Format(time.RFC3339), e.Service, orUnknown(e.Region), strings.Join(e.Regions, ", "))
}

// UnseenUseError stops a rotation whose old key's use before broker's own
// calls IAM could not show; nothing was changed.
type UnseenUseError struct {
	Profile string
	KeyID   string // masked
	Reason  string // why not
	Denied  bool   // IAM refused GetAccessKeyLastUsed to the key without MFA
}

func (e *UnseenUseError) Error() string {
	return fmt.Sprintf("cannot tell whether something else uses the key %s of profile %q: %s, so its earlier use cannot be seen; nothing changed",
		e.KeyID, e.Profile, e.Reason)
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown region"
	}
	return s
}

// Why the use before broker's own call is not known.
const (
	unseenOwnCall = "IAM answered with broker's own GetAccessKeyLastUsed, signed by the key as no MFA session was cached"
	unseenMinted  = "IAM refused GetAccessKeyLastUsed to the key without MFA, and the MFA session minted instead is its last use"
)

// ownUse is what readOwnUse found: the key's last use, or why the use
// before broker's own calls is hidden (unseen), and the MFA session if it
// had to mint one.
type ownUse struct {
	key    AccessKey
	unseen string
	denied bool
}

// readOwnUse asks IAM where the key behind plan p was last used, before
// broker's own calls hide it (see above). Nothing but that one call (and,
// when IAM refuses it without MFA, the MFA session's) is signed by the key.
func (m *Manager) readOwnUse(ctx context.Context, name string) (ownUse, error) {
	p, key, creds, cached, err := m.CachedMFASession(name)
	if err != nil {
		return ownUse{}, err
	}
	if p.MFASerial == "" {
		return ownUse{}, &broker.NoMFAError{Profile: name}
	}
	u := ownUse{key: AccessKey{ID: key.AccessKeyID}}
	if cached {
		return u, m.sessionFor(p, key, creds).lastUsed(ctx, &u.key)
	}
	// Comparing with IAM's clock, not logic a test steers.
	sent := time.Now()
	self := m.sessionFor(p, key, broker.Creds{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey})
	err = self.lastUsed(ctx, &u.key)
	if err == nil {
		if u.key.LastUsed != nil && u.key.LastService == "iam" && !u.key.LastUsed.Before(sent.Add(-ownCallWindow)) {
			u.unseen = unseenOwnCall
		}
		return u, nil
	}
	if !isAccessDenied(err) {
		return ownUse{}, err
	}
	m.debugf("GetAccessKeyLastUsed signed by the key of profile %q refused (%v): asking with an MFA session", p.Root, err)
	u.denied = true
	sent = time.Now()
	_, _, creds, err = m.MFASession(ctx, name)
	if err != nil {
		return ownUse{}, err
	}
	if err := m.sessionFor(p, key, creds).lastUsed(ctx, &u.key); err != nil {
		return ownUse{}, err
	}
	if u.key.LastUsed != nil && u.key.LastService == "sts" && !u.key.LastUsed.Before(sent.Add(-ownCallWindow)) {
		u.unseen = unseenMinted
	}
	return u, nil
}

// sessionFor is a Session of profile p's key calling IAM signed with c, for
// reading the key's own use before Open finds its user.
func (m *Manager) sessionFor(p broker.Plan, key vault.Key, c broker.Creds) *Session {
	return &Session{m: m, Profile: p.Root, Key: key, iam: m.iamFor(c, p)}
}

// isAccessDenied: IAM refused the call to this caller (a policy, such as
// one requiring MFA).
func isAccessDenied(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "AccessDenied" || apiErr.ErrorCode() == "AccessDeniedException")
}

// checkUse refuses to rotate the key behind profile name if IAM says
// something other than broker used it last, or cannot say. It runs before
// Open, whose GetCallerIdentity would itself be the key's last use, and
// returns what it read for Open to keep. A rotation already under way is
// not checked again.
func (m *Manager) checkUse(ctx context.Context, name string) (*ownUse, error) {
	p, err := m.Plan(name)
	if err != nil {
		return nil, err
	}
	if _, err := m.Vault.Rotation(p.Root); err == nil {
		return nil, nil
	}
	u, err := m.readOwnUse(ctx, name)
	if err != nil {
		return nil, err
	}
	masked := broker.MaskKeyID(u.key.ID)
	if u.unseen != "" {
		return &u, &UnseenUseError{Profile: p.Root, KeyID: masked, Reason: u.unseen, Denied: u.denied}
	}
	old := u.key
	if old.LastUsed == nil || old.LastService == "" {
		return &u, nil // never used, or IAM does not say by what
	}
	regions := m.brokerRegions(p.Root)
	if old.LastService == "sts" && (old.LastRegion == "" || slices.Contains(regions, old.LastRegion)) {
		return &u, nil
	}
	return &u, &UseError{Profile: p.Root, KeyID: masked, Service: old.LastService,
		Region: old.LastRegion, When: *old.LastUsed, Regions: regions}
}

// brokerRegions lists the regions broker signs STS calls with the key of
// profile root in: us-east-1, the fallback region, and the region of every
// profile whose credentials come from this key.
func (m *Manager) brokerRegions(root string) []string {
	regions := []string{"us-east-1"}
	add := func(r string) {
		if r != "" && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	add(m.Region)
	for _, name := range m.Config.ProfileNames() {
		if p, err := m.Plan(name); err == nil && p.Root == root {
			add(p.Region)
		}
	}
	return regions
}
