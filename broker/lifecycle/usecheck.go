package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/broker-dev/broker/broker"
)

// Seed step 3: before the old key is deactivated, make sure nothing else
// still uses it. broker only ever signs STS calls with a long-term key, in
// us-east-1 (GetCallerIdentity) and in the regions of the profiles it
// serves (GetSessionToken, AssumeRole). IAM records a key's last use (when,
// service, region): a use by another service, or by STS in another region,
// was not broker's. (Nor can a time be told apart: IAM keeps only the last
// use, and broker does not log its own; a use by another program is seen
// only if it came after broker's own last use of the key.)

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

func orUnknown(s string) string {
	if s == "" {
		return "an unknown region"
	}
	return s
}

// checkUse asks IAM where the key behind profile name was last used and
// refuses if not by broker. It runs before Open, whose GetCallerIdentity
// would itself be the key's last use: signed with the MFA session, the
// check uses the key only if no session is cached (to mint one, with STS,
// as broker does). A rotation already under way is not checked again.
func (m *Manager) checkUse(ctx context.Context, name string) error {
	p, key, creds, err := m.MFASession(ctx, name)
	if err != nil {
		return err
	}
	if _, err := m.Vault.Rotation(p.Root); err == nil {
		return nil
	}
	l := &Session{m: m, Profile: p.Root, Key: key, iam: m.iamFor(creds, p)}
	old := AccessKey{ID: key.AccessKeyID}
	if err := l.lastUsed(ctx, &old); err != nil {
		return err
	}
	if old.LastUsed == nil || old.LastService == "" {
		return nil // never used, or IAM does not say by what
	}
	regions := l.brokerRegions()
	if old.LastService == "sts" && (old.LastRegion == "" || slices.Contains(regions, old.LastRegion)) {
		return nil
	}
	return &UseError{Profile: l.Profile, KeyID: broker.MaskKeyID(old.ID), Service: old.LastService,
		Region: old.LastRegion, When: *old.LastUsed, Regions: regions}
}

// brokerRegions lists the regions broker signs STS calls with the key in:
// us-east-1, the fallback region, and the region of every profile whose
// credentials come from this key.
func (l *Session) brokerRegions() []string {
	regions := []string{"us-east-1"}
	add := func(r string) {
		if r != "" && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	add(l.m.Region)
	for _, name := range l.m.Config.ProfileNames() {
		if p, err := l.m.Plan(name); err == nil && p.Root == l.Profile {
			add(p.Region)
		}
	}
	return regions
}
