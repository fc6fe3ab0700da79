package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

// Rotation is the console's zero-downtime flow as one command, journaled in
// the keychain (vault.Rotation) so that a broker killed at any point leaves
//   - the keychain holding a key that is active in IAM,
//   - the user with at most two keys,
//   - a journal from which the next rotate finishes or undoes the work.
//
// Before anything changes, the old key's last use is checked (usecheck.go),
// and a key an earlier rotation left inactive is deleted to free its slot.
// The steps, each followed by the test hook afterStep:
//
//	begin       journal "creating" (old key, the keys the user has)
//	create      CreateAccessKey answered; the secret is only in memory
//	record      journal "created" with the new key and its secret
//	verify      GetCallerIdentity signed by the new key names the same user
//	switch      the keychain holds the new key
//	others      so does every other profile that held the old key
//	switched    journal "switched"
//	drop        sessions cached from the old key dropped
//	deactivate  old key Inactive
//	tag         the old key's description moved to the new key, and the
//	            old key marked as left inactive by this rotation
//	deactivated journal "deactivated"
//	delete      old key deleted (only for a journal of an older broker
//	            that asked for it: the seeds' flow keeps the old key)
//	finish      journal removed
//
// Resuming from the journal: "creating" means the new key's secret may be
// lost, so any key of the user that is neither the stored key nor one of
// those known at the start is deleted (the orphan) and the rotation starts
// over; a later state continues where it stopped. Each step is safe to
// repeat. IAM calls after the switch still use the MFA session minted from
// the old key: sessions already issued outlive the key's deactivation, so one
// code serves the whole rotation.
const (
	stepBegin       = "begin"
	stepCreate      = "create"
	stepRecord      = "record"
	stepVerify      = "verify"
	stepSwitch      = "switch"
	stepOthers      = "others"
	stepSwitched    = "switched"
	stepDrop        = "drop"
	stepDeactivate  = "deactivate"
	stepTag         = "tag"
	stepDeactivated = "deactivated"
	stepDelete      = "delete"
	stepFinish      = "finish"
)

// rotateSteps lists the steps in order, for tests.
var rotateSteps = []string{stepBegin, stepCreate, stepRecord, stepVerify, stepSwitch, stepOthers, stepSwitched,
	stepDrop, stepDeactivate, stepTag, stepDeactivated, stepFinish} // stepDelete: only older journals

// Journal states.
const (
	stateCreating    = "creating"
	stateCreated     = "created"
	stateSwitched    = "switched"
	stateDeactivated = "deactivated"
)

// defaultVerifyWait bounds how long the new key may take to work: IAM is
// eventually consistent, and a new key usually works within seconds.
const defaultVerifyWait = 10 * time.Second

// RotateOptions shape a rotation.
type RotateOptions struct {
	DeleteInactive bool   // with two keys, delete the other one if it is inactive, to free a slot
	Force          bool   // rotate even if something other than broker used the old key last
	KeyID          string // the key the caller confirmed rotating; another stored by then: KeyRotatedError

	revoking bool // revoke: no use check, and the old key is not marked for deletion

	afterStep  func(step string) error // test hook: an error stops the rotation there, as a crash would
	verifyWait time.Duration           // 0: defaultVerifyWait
}

// RotateResult is what a rotation did.
type RotateResult struct {
	Profile         string
	User            string
	OldKeyID        string
	NewKeyID        string
	OldDeleted      bool      // only for an older broker's journal that asked for it
	DeletedInactive string    // the inactive spare deleted to free a slot
	RotatedOut      bool      // the deleted spare was the old key of an earlier rotation
	Described       string    // the description moved from the old key to the new one
	TagErr          error     // why the old key could not be marked or its description moved
	Resumed         string    // the state of an interrupted rotation found, "" if none
	Orphan          string    // a key left by an interrupted rotation and deleted
	AlsoSwitched    []string  // other profiles that held the old key and now hold the new one
	Sessions        int       // cached sessions of the old key dropped
	LatestExpiry    time.Time // when the last of those expires
	switched        bool      // the keychain holds the new key
}

// KeyLimitError refuses to create a key for a user who has MaxKeysPerUser.
type KeyLimitError struct {
	Profile string
	User    string
	Keys    []AccessKey
}

func (e *KeyLimitError) Error() string {
	var parts []string
	for _, k := range e.Keys {
		s := fmt.Sprintf("%s %s", broker.MaskKeyID(k.ID), strings.ToLower(k.Status))
		if k.InKeychain {
			s += ", in the keychain"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("IAM user %q already has %d access keys, the most IAM allows, and a new one needs a free slot (%s); nothing changed",
		e.User, len(e.Keys), strings.Join(parts, "; "))
}

// StoredElsewhereError refuses to delete a spare key that other profiles'
// keychain items still hold; nothing was changed.
type StoredElsewhereError struct {
	KeyID    string // masked
	Profiles []string
}

func (e *StoredElsewhereError) Error() string {
	return fmt.Sprintf("the inactive key %s that would be deleted to free a slot is still stored for %s; nothing changed",
		e.KeyID, ProfileList(e.Profiles))
}

// RotatingElsewhereError refuses to rotate a key whose rotation under
// another profile holding it was interrupted; nothing was changed. A
// rotation under way holds the key's lock (finish), so this one is not.
type RotatingElsewhereError struct {
	Profile string // where the rotation is journaled
	KeyID   string // masked
}

func (e *RotatingElsewhereError) Error() string {
	return fmt.Sprintf("a rotation of the key %s was interrupted under profile %q, which holds it too; nothing changed", e.KeyID, e.Profile)
}

// ProfileList names profiles for a person: profile "a", profiles "a", "b".
func ProfileList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	if len(names) == 1 {
		return "profile " + quoted[0]
	}
	return "profiles " + strings.Join(quoted, ", ")
}

// Spare returns the key that is not the keychain's: the one to remove.
func (e *KeyLimitError) Spare() (AccessKey, bool) {
	for _, k := range e.Keys {
		if !k.InKeychain {
			return k, true
		}
	}
	return AccessKey{}, false
}

// Rotate replaces the key behind profile name with a new one.
func (m *Manager) Rotate(ctx context.Context, name string, opts RotateOptions) (RotateResult, error) {
	unlock, err := m.LockKeys(ctx, name)
	if err != nil {
		return RotateResult{}, err
	}
	defer unlock()
	if opts.KeyID != "" {
		if p, err := m.Plan(name); err == nil {
			if k, err := m.Vault.Key(p.Root); err == nil && k.AccessKeyID != opts.KeyID {
				return RotateResult{}, &broker.KeyRotatedError{Profile: p.Root}
			}
		}
	}
	var own *ownUse
	if !opts.Force {
		if own, err = m.checkUse(ctx, name); err != nil {
			return RotateResult{}, err
		}
	}
	l, err := m.open(ctx, name, own)
	if err != nil {
		return RotateResult{}, err
	}
	return l.rotate(ctx, opts)
}

// rotate finishes or undoes an interrupted rotation, then rotates (unless it
// finished one: that was the rotation asked for). The caller holds LockKeys.
func (l *Session) rotate(ctx context.Context, opts RotateOptions) (RotateResult, error) {
	res := RotateResult{Profile: l.Profile, User: l.User.UserName}
	j, found, err := l.journal(ctx, &res)
	if err != nil {
		return res, err
	}
	if found {
		return l.finish(ctx, j, opts, res)
	}
	if err := l.rotatingElsewhere(); err != nil {
		return res, err
	}
	return l.start(ctx, opts, res)
}

// rotatingElsewhere refuses when another profile has the journal of an
// interrupted rotation of this key (from it, or to it: the other profile
// switched first): that one must finish first, or the two would each
// create a key.
func (l *Session) rotatingElsewhere() error {
	names, err := l.m.Vault.KeyProfiles()
	if err != nil {
		return err
	}
	id := l.Key.AccessKeyID
	for _, name := range names {
		if name == l.Profile {
			continue
		}
		if j, err := l.m.Vault.Rotation(name); err == nil && (j.OldKeyID == id || j.NewKey.AccessKeyID == id) {
			return &RotatingElsewhereError{Profile: name, KeyID: broker.MaskKeyID(id)}
		}
	}
	return nil
}

// holders returns the profiles other than except whose keychain item holds
// the access key id.
func (m *Manager) holders(id string, except string) ([]string, error) {
	all, err := m.KeyProfiles(id)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(n string) bool { return n == except }), nil
}

// journal reads the journal of an interrupted rotation. One in state
// "creating" is undone here (found is then false); so is one that no longer
// matches the keychain: someone stored another key since, or the old key
// again after the switch (`broker add`). The keychain's key is never touched.
func (l *Session) journal(ctx context.Context, res *RotateResult) (vault.Rotation, bool, error) {
	j, err := l.m.Vault.Rotation(l.Profile)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.Rotation{}, false, nil
	}
	if err != nil {
		return vault.Rotation{}, false, err
	}
	res.Resumed = j.State
	stored := l.Key.AccessKeyID
	stale := stored != j.NewKey.AccessKeyID && (stored != j.OldKeyID || j.State != stateCreated)
	if j.State == stateCreating || stale {
		l.m.debugf("undoing the interrupted rotation of profile %q (state %s)", l.Profile, j.State)
		orphan, err := l.undo(ctx, j)
		res.Orphan = orphan
		return vault.Rotation{}, false, err
	}
	return j, true, nil
}

// undo deletes the key an interrupted rotation created, if any, and drops
// the journal. The orphan is a key that is neither the stored key nor one the
// user had when the rotation began; its secret may be lost.
func (l *Session) undo(ctx context.Context, j vault.Rotation) (orphan string, err error) {
	keys, err := l.listKeys(ctx, l.User.UserName)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if k.ID == l.Key.AccessKeyID {
			continue // never the keychain's key
		}
		if k.ID != j.NewKey.AccessKeyID && (k.ID == j.OldKeyID || slices.Contains(j.Known, k.ID)) {
			continue // the user had it before the rotation began
		}
		if err := l.deleteKey(ctx, l.User.UserName, k.ID); err != nil {
			return "", err
		}
		orphan = k.ID
	}
	if err := l.m.Vault.RemoveRotation(l.Profile); err != nil {
		return orphan, err
	}
	return orphan, nil
}

// dropCreated deletes the key this rotation created, whose ID the journal
// has from CreateAccessKey's answer, and drops the journal; no other key.
func (l *Session) dropCreated(ctx context.Context, j vault.Rotation) error {
	if id := j.NewKey.AccessKeyID; id != "" && id != l.Key.AccessKeyID && id != j.OldKeyID {
		if err := l.deleteKey(ctx, l.User.UserName, id); err != nil && !isNoSuchEntity(err) {
			return err
		}
	}
	return l.m.Vault.RemoveRotation(l.Profile)
}

func (o RotateOptions) after(step string) error {
	if o.afterStep == nil {
		return nil
	}
	return o.afterStep(step)
}

// start checks the two-key limit, journals,
// creates the new key and keeps its secret, then hands over to finish.
func (l *Session) start(ctx context.Context, opts RotateOptions, res RotateResult) (RotateResult, error) {
	keys, err := l.listKeys(ctx, l.User.UserName)
	if err != nil {
		return res, err
	}
	if _, ok := findKey(keys, l.Key.AccessKeyID); !ok {
		return res, fmt.Errorf("the keychain's key %s of profile %q is not among the access keys of IAM user %q", broker.MaskKeyID(l.Key.AccessKeyID), l.Profile, l.User.UserName)
	}
	if len(keys) >= MaxKeysPerUser {
		tags, err := l.userTags(ctx, l.User.UserName)
		if err != nil {
			return res, err
		}
		for i := range keys {
			tags.describe(&keys[i])
		}
		limit := &KeyLimitError{Profile: l.Profile, User: l.User.UserName, Keys: keys}
		spare, ok := limit.Spare()
		free := opts.DeleteInactive || spare.RotatedOut != nil
		if !free || !ok || spare.Status != StatusInactive || len(keys) > MaxKeysPerUser {
			return res, limit
		}
		// An older broker, or `broker add`, may have left the key under
		// another profile: deleting it would break that one for good.
		if others, err := l.m.holders(spare.ID, l.Profile); err != nil {
			return res, err
		} else if len(others) > 0 {
			return res, &StoredElsewhereError{KeyID: broker.MaskKeyID(spare.ID), Profiles: others}
		}
		if err := l.deleteKey(ctx, l.User.UserName, spare.ID); err != nil {
			return res, err
		}
		res.DeletedInactive, res.RotatedOut = spare.ID, spare.RotatedOut != nil
		keys = slices.DeleteFunc(keys, func(k AccessKey) bool { return k.ID == spare.ID })
	}
	j := vault.Rotation{
		Profile: l.Profile, State: stateCreating, OldKeyID: l.Key.AccessKeyID,
		KeepOld: true, Started: l.m.now().UTC(),
	}
	for _, k := range keys {
		j.Known = append(j.Known, k.ID)
	}
	if err := l.m.Vault.SetRotation(j); err != nil {
		return res, err
	}
	if err := opts.after(stepBegin); err != nil {
		return res, err
	}

	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	out, err := l.iam.CreateAccessKey(cctx, &iam.CreateAccessKeyInput{UserName: aws.String(l.User.UserName)})
	cancel()
	if err != nil {
		var answered smithy.APIError
		if errors.As(err, &answered) {
			// IAM refused (LimitExceeded, AccessDenied): it created nothing,
			// so nothing is deleted; the journal goes.
			if rerr := l.m.Vault.RemoveRotation(l.Profile); rerr != nil {
				l.m.debugf("removing the journal: %v", rerr)
			}
		}
		// Otherwise the answer may be lost with a key created: the journal
		// stays "creating", and the next rotate, holding the lock, undoes it.
		return res, fmt.Errorf("creating a new access key for IAM user %q: %w", l.User.UserName, l.classify(err))
	}
	if out.AccessKey == nil || out.AccessKey.AccessKeyId == nil || out.AccessKey.SecretAccessKey == nil {
		return res, errors.New("IAM answered CreateAccessKey without a key")
	}
	newKey := vault.Key{
		AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey),
		Added: l.m.now().UTC(),
	}
	if err := opts.after(stepCreate); err != nil {
		return res, err
	}
	j.State, j.NewKey = stateCreated, newKey
	if err := l.m.Vault.SetRotation(j); err != nil {
		// The secret cannot be kept: the key is useless, so take it back.
		if uerr := l.dropCreated(ctx, j); uerr != nil {
			l.m.debugf("undoing the creation: %v", uerr)
		}
		return res, err
	}
	if err := opts.after(stepRecord); err != nil {
		return res, err
	}
	return l.finish(ctx, j, opts, res)
}

// finish takes a journaled rotation from its state to the end.
func (l *Session) finish(ctx context.Context, j vault.Rotation, opts RotateOptions, res RotateResult) (RotateResult, error) {
	res.OldKeyID, res.NewKeyID = j.OldKeyID, j.NewKey.AccessKeyID
	keepOld := j.KeepOld
	// LockKeys holds the lock of the stored key; take the other one's too,
	// before any other profile is switched to the new key, so that a
	// rotate of a profile holding either waits for this one.
	other := j.NewKey.AccessKeyID
	if l.Key.AccessKeyID == other {
		other = j.OldKeyID
	}
	if other != "" && other != l.Key.AccessKeyID {
		unlock, err := l.m.LockKeyID(ctx, l.Profile, other)
		if err != nil {
			return res, err
		}
		defer unlock()
	}
	if j.State == stateCreated {
		if l.Key.AccessKeyID != j.NewKey.AccessKeyID {
			if err := l.verify(ctx, j.NewKey, opts.verifyWait); err != nil {
				// The new key does not work: take it back; nothing else changed.
				if uerr := l.dropCreated(ctx, j); uerr != nil {
					l.m.debugf("undoing the rotation: %v", uerr)
				}
				return res, err
			}
			if err := opts.after(stepVerify); err != nil {
				return res, err
			}
			if err := l.m.Vault.SetKey(l.Profile, j.NewKey); err != nil {
				return res, fmt.Errorf("storing the new key of profile %q: %w", l.Profile, err)
			}
			l.Key = j.NewKey
			if err := opts.after(stepSwitch); err != nil {
				return res, err
			}
		}
		// Every profile storing the old key gets the new one, before the
		// journal says "switched": a resumed rotation repeats this step
		// for those still holding the old key.
		others, err := l.m.holders(j.OldKeyID, l.Profile)
		if err != nil {
			return res, err
		}
		for _, name := range others {
			if err := l.m.Vault.SetKey(name, j.NewKey); err != nil {
				return res, fmt.Errorf("storing the new key of profile %q, which held the old key too: %w", name, err)
			}
			res.AlsoSwitched = append(res.AlsoSwitched, name)
		}
		if err := opts.after(stepOthers); err != nil {
			return res, err
		}
		j.State = stateSwitched
		if err := l.m.Vault.SetRotation(j); err != nil {
			return res, err
		}
		if err := opts.after(stepSwitched); err != nil {
			return res, err
		}
	}
	res.switched = true
	if j.State == stateSwitched {
		n, latest, err := l.dropSessions(j.OldKeyID)
		res.Sessions, res.LatestExpiry = n, latest
		if err != nil {
			return res, err
		}
		if err := opts.after(stepDrop); err != nil {
			return res, err
		}
		if err := l.setStatus(ctx, l.User.UserName, j.OldKeyID, StatusInactive); err != nil && !isNoSuchEntity(err) {
			return res, err
		}
		if err := opts.after(stepDeactivate); err != nil {
			return res, err
		}
		// Best effort: without iam:TagUser the rotation still works, and
		// the next one asks for --delete-inactive.
		res.Described, res.TagErr = l.moveDescription(ctx, j.OldKeyID, j.NewKey.AccessKeyID, l.m.now(), !opts.revoking)
		if res.TagErr != nil {
			l.m.debugf("marking the old key: %v", res.TagErr)
		}
		if err := opts.after(stepTag); err != nil {
			return res, err
		}
		j.State = stateDeactivated
		if err := l.m.Vault.SetRotation(j); err != nil {
			return res, err
		}
		if err := opts.after(stepDeactivated); err != nil {
			return res, err
		}
	}
	if !keepOld {
		if err := l.deleteKey(ctx, l.User.UserName, j.OldKeyID); err != nil {
			return res, err
		}
		res.OldDeleted = true
		if err := opts.after(stepDelete); err != nil {
			return res, err
		}
	}
	if err := l.m.Vault.RemoveRotation(l.Profile); err != nil {
		return res, err
	}
	return res, opts.after(stepFinish)
}

// verify waits until the new key works and names the same user, retrying
// while IAM propagates it, for at most wait.
func (l *Session) verify(ctx context.Context, k vault.Key, wait time.Duration) error {
	if wait <= 0 {
		wait = defaultVerifyWait
	}
	deadline := time.Now().Add(wait) // waiting on AWS, not logic a test steers
	pause := 200 * time.Millisecond
	for {
		who, err := l.m.Identity(ctx, l.Profile, k)
		if err == nil {
			if who.ARN != l.User.ARN {
				return fmt.Errorf("the new key %s belongs to %s, not %s", broker.MaskKeyID(k.AccessKeyID), who.ARN, l.User.ARN)
			}
			return nil
		}
		var rejected *broker.RejectedKeyError
		if !errors.As(err, &rejected) || time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("the new key %s does not work: %w", broker.MaskKeyID(k.AccessKeyID), err)
		}
		l.m.debugf("the new key is not accepted yet; trying again in %s", pause)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}
