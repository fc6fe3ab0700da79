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

// LockKeys takes the cross-process lock on the key of profile name, held
// while a rotation or revocation runs: two at once would each take the
// other's new key for an orphan. The OS drops the lock of a killed process.
func (b *Broker) LockKeys(ctx context.Context, name string) (unlock func(), err error) {
	p, err := b.Plan(name)
	if err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	unlock, err = lock(waitCtx, b.LockDir, "keys-"+hashOf("keys", p.Root))
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, &LockTimeoutError{Profile: p.Root}
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
