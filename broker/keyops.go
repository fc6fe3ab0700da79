package broker

import (
	"context"
	"errors"

	"github.com/broker-dev/broker/vault"
)

// What the key lifecycle (package broker/lifecycle) needs from the session
// path: the keys lock, dropping cached sessions, and the error types of AWS
// calls.

// STSAPI names what Clients.STS returns, for packages that replace it.
type STSAPI = stsAPI

// LockKeys takes the cross-process locks held while a rotation or
// revocation of the key of profile name runs: the profile's, then the one
// of the access key ID it stores, which every profile holding the same key
// shares. Two at once would each take the other's new key for an orphan.
// Having waited, it reads the stored key again: another broker may have
// rotated it meanwhile (KeyRotatedError, nothing changed). The OS drops the
// locks of a killed process.
func (b *Broker) LockKeys(ctx context.Context, name string) (unlock func(), err error) {
	p, err := b.Plan(name)
	if err != nil {
		return nil, err
	}
	unlockProfile, err := b.lockWaiting(ctx, p.Root, "keys-"+hashOf("keys", p.Root))
	if err != nil {
		return nil, err
	}
	k, err := b.Vault.Key(p.Root)
	if err != nil {
		// Nothing to rotate: the caller reports the missing key.
		return unlockProfile, nil
	}
	unlockKey, err := b.LockKeyID(ctx, p.Root, k.AccessKeyID)
	if err != nil {
		unlockProfile()
		return nil, err
	}
	unlock = func() { unlockKey(); unlockProfile() }
	if now, err := b.Vault.Key(p.Root); err != nil || now.AccessKeyID != k.AccessKeyID {
		unlock()
		return nil, &KeyRotatedError{Profile: p.Root}
	}
	return unlock, nil
}

// LockKeyID takes the lock of the access key ID id, for profile (named in
// a timeout), shared by every profile that holds the key.
func (b *Broker) LockKeyID(ctx context.Context, profile, id string) (unlock func(), err error) {
	return b.lockWaiting(ctx, profile, "keyid-"+hashOf("keyid", id))
}

func (b *Broker) lockWaiting(ctx context.Context, profile, id string) (unlock func(), err error) {
	waitCtx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	unlock, err = lock(waitCtx, b.LockDir, id)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, &LockTimeoutError{Profile: profile}
	}
	return unlock, err
}

// DropSessions removes the cached sessions match selects and says how many.
func (b *Broker) DropSessions(match func(vault.Session) bool) (int, error) {
	return b.dropSessions(match)
}

// Classify turns an AWS call's error into one of broker's typed errors
// (RejectedKeyError, MFARejectedError, UnreachableError) where a caller
// must decide something; others pass through.
func Classify(err error, service string, profile, keyID string) error {
	return classify(err, service, profile, keyID)
}

// CachedMFASession returns the MFA session cached for the key behind
// profile name, as MFASession does, but never mints one: ok is false when
// none is cached. The key itself is not used, so what IAM records as the
// key's last use is left as it was.
func (b *Broker) CachedMFASession(name string) (p Plan, key vault.Key, c Creds, ok bool, err error) {
	if p, err = b.Plan(name); err != nil {
		return Plan{}, vault.Key{}, Creds{}, false, err
	}
	key, err = b.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return Plan{}, vault.Key{}, Creds{}, false, &NoKeyError{Profile: p.Root}
	}
	if err != nil {
		return Plan{}, vault.Key{}, Creds{}, false, err // vault says whose key
	}
	if p.MFASerial == "" {
		return p, key, Creds{}, false, nil
	}
	s, ok, err := b.cached(cacheID(p, key, 0))
	if !ok || err != nil {
		return p, key, Creds{}, false, err
	}
	return p, key, Creds{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}, true, nil
}

// KeyProfiles returns the profiles whose keychain item holds the access key
// id, sorted; an item broker cannot read is left out.
func (b *Broker) KeyProfiles(id string) ([]string, error) {
	names, err := b.Vault.KeyProfiles()
	if err != nil {
		return nil, err
	}
	var holders []string
	for _, name := range names {
		if k, err := b.Vault.Key(name); err == nil && k.AccessKeyID == id {
			holders = append(holders, name)
		}
	}
	return holders, nil
}
