package lifecycle

import (
	"context"
	"fmt"
	"time"
)

// Revocation is the console's response to an exposed key: deactivate it at
// once and stop handing out the sessions cached from it. When the user has a
// free key slot, a replacement is minted, verified and stored first (the
// rotation machinery, journal included, keeping the old key inactive rather
// than deleting it, so that what it did can still be looked up), so the
// profile keeps working; a key an earlier rotation left inactive is
// deleted to free the slot. Without a free slot the key is deactivated at
// once and the profile has no working key until the user makes one.
//
// An interrupted rotation found in the journal was replacing this very key:
// revoke finishes it, leaving the old key inactive, which is the revocation
// asked for. One interrupted while creating is undone first.

// RevokeOptions shape a revocation.
type RevokeOptions struct {
	KeyID    string // a key of the account other than the profile's own ("": the profile's)
	Sessions bool   // also deny the sessions minted before now (DenyOlderSessions)

	afterStep  func(step string) error // test hook, as in RotateOptions
	verifyWait time.Duration
}

// RevokeResult is what a revocation did, and what the person must know to
// finish the job.
type RevokeResult struct {
	Profile      string
	User         string
	KeyID        string     // the revoked key, now inactive
	KeyCreated   time.Time  // zero if IAM no longer lists it
	LastUsed     *time.Time // when IAM saw it last, nil if never
	LastRegion   string     // where, "" if never
	NewKeyID     string     // the replacement now in the keychain, "" if none
	NoSlot       bool       // the user had two keys: no replacement was made
	ReplaceErr   error      // why no replacement was made though a slot was free
	Resumed      string     // the state of an interrupted rotation finished
	Orphan       string     // a key left by an interrupted rotation and deleted
	Sessions     int        // cached sessions of the key dropped
	LatestExpiry time.Time  // when the last of them expires: issued sessions stay valid until then
	Other        bool       // KeyID is not the profile's own key but User's
	Denied       *Denial    // the sessions policy put (Sessions), nil if none
	AlsoSwitched []string   // other profiles that held the key and now hold the replacement
	StillStored  []string   // other profiles whose keychain item still holds the revoked key
}

// Revoke deactivates the key behind profile name.
func (m *Manager) Revoke(ctx context.Context, name string, opts RevokeOptions) (RevokeResult, error) {
	unlock, err := m.LockKeys(ctx, name)
	if err != nil {
		return RevokeResult{}, err
	}
	defer unlock()
	// Where the exposed key was last used, before broker's own calls hide
	// it: the CloudTrail lookup printed starts there.
	open := m.OpenWithOwnUse
	if opts.KeyID != "" {
		open = m.Open
	}
	l, err := open(ctx, name)
	if err != nil {
		return RevokeResult{}, err
	}
	var res RevokeResult
	if opts.KeyID != "" && opts.KeyID != l.Key.AccessKeyID {
		res, err = l.revokeOther(ctx, opts.KeyID)
	} else {
		res, err = l.revoke(ctx, opts)
	}
	if err == nil {
		// The key no longer works: whoever else still stores it must hear so.
		if res.StillStored, err = m.holders(res.KeyID, l.Profile); err != nil {
			return res, err
		}
	}
	if err != nil || !opts.Sessions {
		return res, err
	}
	// Last: the policy also denies the MFA session this command signs with.
	if res.Denied, err = l.DenyOlderSessions(ctx, res.User); err != nil {
		return res, fmt.Errorf("the key is deactivated, but denying the older sessions failed: %w", err)
	}
	return res, nil
}

// revoke deactivates the keychain's key, replacing it first when it can.
// The caller holds LockKeys.
func (l *Session) revoke(ctx context.Context, opts RevokeOptions) (RevokeResult, error) {
	res := RevokeResult{Profile: l.Profile, User: l.User.UserName, KeyID: l.Key.AccessKeyID}
	ro := RotateOptions{revoking: true, afterStep: opts.afterStep, verifyWait: opts.verifyWait}
	var rr RotateResult
	j, found, err := l.journal(ctx, &rr)
	res.Resumed, res.Orphan = rr.Resumed, rr.Orphan
	if err != nil {
		return res, err
	}
	keys, err := l.listKeys(ctx, l.User.UserName)
	if err != nil {
		return res, err
	}
	if found {
		res.KeyID = j.OldKeyID
	}
	if k, ok := findKey(keys, res.KeyID); ok {
		res.KeyCreated = k.Created
		if err := l.lastUsed(ctx, &k); err != nil {
			return res, err
		}
		res.LastUsed, res.LastRegion = k.LastUsed, k.LastRegion
	}
	switch {
	case found:
		rr, err = l.finish(ctx, j, ro, rr)
		return res.from(rr), err
	case len(keys) < MaxKeysPerUser || l.hasRotatedSpare(ctx, keys):
		rr, err = l.start(ctx, ro, rr)
		if err == nil || rr.switched {
			// Failed after the switch: the journal lets the next revoke finish.
			return res.from(rr), err
		}
		l.m.debugf("no replacement for the key of profile %q: %v", l.Profile, err)
		res.ReplaceErr = err
	default:
		res.NoSlot = true
	}
	// No replacement: deactivate at once.
	if err := l.setStatus(ctx, l.User.UserName, res.KeyID, StatusInactive); err != nil {
		return res, err
	}
	res.Sessions, res.LatestExpiry, err = l.dropSessions(res.KeyID)
	return res, err
}

func (res RevokeResult) from(rr RotateResult) RevokeResult {
	res.NewKeyID, res.AlsoSwitched = rr.NewKeyID, rr.AlsoSwitched
	res.Sessions, res.LatestExpiry = rr.Sessions, rr.LatestExpiry
	if rr.Orphan != "" {
		res.Orphan = rr.Orphan
	}
	return res
}

// hasRotatedSpare: one of keys other than the keychain's is inactive and
// left so by a rotation, so start may delete it to make a replacement.
func (l *Session) hasRotatedSpare(ctx context.Context, keys []AccessKey) bool {
	tags, err := l.userTags(ctx, l.User.UserName)
	if err != nil {
		l.m.debugf("reading the tags of the keys: %v", err)
		return false
	}
	for _, k := range keys {
		tags.describe(&k)
		if !k.InKeychain && k.RotatedOut != nil {
			return true
		}
	}
	return false
}
