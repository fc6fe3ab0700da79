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
