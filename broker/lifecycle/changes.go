package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

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
	ErrKeyStored   = errors.New("the keychain holds it for another profile")
)

// ErrNoOwner means no IAM user of the account has the key.
var ErrNoOwner = errors.New("no IAM user of this account has this access key")

// KeyChangeError refuses a change of `broker keys`; nothing was changed.
type KeyChangeError struct {
	Profile string
	User    string
	KeyID   string
	Action  KeyAction
	Err     error    // ErrKeyActive, ErrKeyInUse, ErrKeyStored, ErrKeyNotUsers or ErrNoOwner
	Stored  []string // ErrKeyStored: the profiles holding it
}

func (e *KeyChangeError) Error() string {
	if len(e.Stored) > 0 {
		return fmt.Sprintf("not going to %s key %s of IAM user %q: the keychain holds it for %s", e.Action, e.KeyID, e.User, ProfileList(e.Stored))
	}
	if e.User == "" {
		return fmt.Sprintf("not going to %s key %s: %v", e.Action, e.KeyID, e.Err)
	}
	return fmt.Sprintf("not going to %s key %s of IAM user %q: %v", e.Action, e.KeyID, e.User, e.Err)
}

func (e *KeyChangeError) Unwrap() error { return e.Err }

// Owner finds the IAM user owning key id: user when it is not "", else
// the profile's own user if the key is theirs, else whoever in the account
// IAM says owns it (GetAccessKeyLastUsed names the owner). It returns the
// user's keys as listed, and ErrNoOwner (in a KeyChangeError for the
// caller's action) when the account has no such key.
func (l *Session) Owner(ctx context.Context, id, user string) (string, []AccessKey, error) {
	if user == "" {
		keys, err := l.listKeys(ctx, l.User.UserName)
		if err != nil {
			return "", nil, err
		}
		if _, ok := findKey(keys, id); ok {
			return l.User.UserName, keys, nil
		}
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		out, err := l.iam.GetAccessKeyLastUsed(cctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
		cancel()
		if isNoSuchEntity(err) || (err == nil && aws.ToString(out.UserName) == "") {
			return "", nil, ErrNoOwner
		}
		if err != nil {
			return "", nil, fmt.Errorf("asking IAM who owns key %s: %w", broker.MaskKeyID(id), l.classify(err))
		}
		user = aws.ToString(out.UserName)
	}
	keys, err := l.listKeys(ctx, user)
	if isNoSuchEntity(err) {
		return "", nil, fmt.Errorf("there is no IAM user %q: %w", user, ErrKeyNotUsers)
	}
	return user, keys, err
}

// CheckKeyChange says whether action may be done to key id of IAM user
// user ("": found by Owner), as the console flow has it: only an inactive
// key may be deleted, and the keychain's own key is neither deactivated nor
// deleted without force. It returns the key.
func (l *Session) CheckKeyChange(ctx context.Context, action KeyAction, id, user string, force bool) (AccessKey, error) {
	refuse := func(k AccessKey, reason error) (AccessKey, error) {
		return k, &KeyChangeError{Profile: l.Profile, User: k.User, KeyID: id, Action: action, Err: reason}
	}
	owner, keys, err := l.Owner(ctx, id, user)
	if errors.Is(err, ErrNoOwner) || errors.Is(err, ErrKeyNotUsers) {
		return refuse(AccessKey{User: user}, err)
	}
	if err != nil {
		return AccessKey{}, err
	}
	k, ok := findKey(keys, id)
	k.User = owner
	switch {
	case !ok:
		return refuse(k, ErrKeyNotUsers)
	case action == ActionActivate:
		return k, nil
	case action == ActionDelete && k.Status != StatusInactive:
		return refuse(k, ErrKeyActive)
	case k.InKeychain && !force:
		return refuse(k, ErrKeyInUse)
	case !force:
		others, err := l.m.holders(id, l.Profile)
		if err != nil {
			return k, err
		}
		if len(others) > 0 {
			return k, &KeyChangeError{Profile: l.Profile, User: k.User, KeyID: id, Action: action, Err: ErrKeyStored, Stored: others}
		}
	}
	return k, nil
}

// KeyChange is what ChangeKey did.
type KeyChange struct {
	Key              AccessKey // as it was before
	Sessions         int       // cached sessions of the key dropped
	RemovedFromVault bool      // the deleted key was the keychain's, and left it
	StillStored      []string  // profiles whose keychain item still holds the key, which no longer works
}

// ChangeKey checks and then makes the change. Activating a key rotate had
// left inactive drops that mark; deleting a key drops its tags. Deactivating
// or deleting the keychain's own key (force) also drops the sessions cached
// from it, since broker must stop handing them out; deleting it also removes
// it from the keychain, where it could no longer mint anything.
func (l *Session) ChangeKey(ctx context.Context, action KeyAction, id, user string, force bool) (KeyChange, error) {
	k, err := l.CheckKeyChange(ctx, action, id, user, force)
	if err != nil {
		return KeyChange{}, err
	}
	res := KeyChange{Key: k}
	switch action {
	case ActionActivate:
		if err = l.setStatus(ctx, k.User, id, StatusActive); err == nil {
			l.untag(ctx, k.User, rotatedTag(id))
		}
	case ActionDeactivate:
		err = l.setStatus(ctx, k.User, id, StatusInactive)
	case ActionDelete:
		err = l.deleteKey(ctx, k.User, id)
	default:
		return KeyChange{}, fmt.Errorf("unknown key action %q", action)
	}
	if err != nil || action == ActionActivate {
		return res, err
	}
	// Whoever's key it is, broker stops handing out what it cached from it.
	res.Sessions, _, err = l.dropSessions(id)
	if err != nil {
		return res, err
	}
	if k.InKeychain && action == ActionDelete {
		if err := l.m.Vault.RemoveKey(l.Profile); err != nil && !errors.Is(err, vault.ErrNotFound) {
			return res, fmt.Errorf("removing the deleted key from the keychain: %w", err)
		}
		res.RemovedFromVault = true
	}
	res.StillStored, err = l.m.KeyProfiles(id)
	return res, err
}

func (l *Session) setStatus(ctx context.Context, user, id, status string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := l.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(user), AccessKeyId: aws.String(id), Status: iamtypes.StatusType(status),
	})
	if err != nil {
		return fmt.Errorf("setting key %s of IAM user %q %s: %w", broker.MaskKeyID(id), user, status, l.classify(err))
	}
	return nil
}

// deleteKey deletes key id and its tags; a key already gone is not an
// error, so that a resumed rotation can repeat the step.
func (l *Session) deleteKey(ctx context.Context, user, id string) error {
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := l.iam.DeleteAccessKey(cctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
	var gone *iamtypes.NoSuchEntityException
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("deleting key %s of IAM user %q: %w", broker.MaskKeyID(id), user, l.classify(err))
	}
	l.untag(ctx, user, id, rotatedTag(id))
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
