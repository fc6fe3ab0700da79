// Package broker turns a profile into MFA-gated STS session credentials:
// source key → MFA session → role(s), with a keychain cache and single flight
// across processes. It never prints, prompts or exits: the CLI does.
package broker

import (
	"context"
	"errors"
	"time"

	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
)

// Durations broker uses when the profile does not say.
const (
	DefaultSessionDuration = 8 * time.Hour // the MFA session: one prompt per working day
	DefaultRoleDuration    = time.Hour
	// roleChainLimit is the longest role session STS grants when the caller is
	// itself a session; longer roles are assumed from the long-term key.
	roleChainLimit = time.Hour
	// lockWait bounds how long a process waits for another one that holds the
	// same session's lock (typically waiting for a person to type a code).
	lockWait = 5 * time.Minute
)

// TokenSource gives MFA codes; *mfa.Prompter satisfies it. interactive says a
// person typed the code, so a rejected one may be asked for again.
type TokenSource interface {
	Code(ctx context.Context, r mfa.Request) (code string, interactive bool, err error)
}

// Broker resolves profiles into credentials.
type Broker struct {
	Config  *awsconfig.File
	Vault   *vault.Vault
	MFA     TokenSource
	Clients Clients
	LockDir string               // lock files' folder; RuntimeDir when ""
	Now     func() time.Time     // clock; time.Now when nil
	Debugf  func(string, ...any) // debug log; silent when nil
	// Region is the caller's AWS_REGION (else AWS_DEFAULT_REGION). As in
	// aws-vault and the AWS SDKs it wins over the profile's region, for the
	// STS calls and for what `exec` hands on alike.
	Region string
	Getenv func(string) string // the environment; os.Getenv when nil
}

// Credentials are what a program gets: always temporary.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	Region          string
}

func (b *Broker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Broker) debugf(format string, args ...any) {
	if b.Debugf != nil {
		b.Debugf(format, args...)
	}
}

// Credentials returns session credentials for the named profile, from the
// cache when a session there has at least MinRemaining left.
func (b *Broker) Credentials(ctx context.Context, name string) (Credentials, error) {
	p, err := b.Plan(name)
	if err != nil {
		return Credentials{}, err
	}
	key, err := b.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return Credentials{}, &NoKeyError{Profile: p.Root}
	}
	if err != nil {
		return Credentials{}, err // vault says whose key
	}
	if p.MFASerial == "" && !p.NoMFA {
		return Credentials{}, &NoMFAError{Profile: name}
	}
	if err := checkDurations(p); err != nil {
		return Credentials{}, err
	}
	s, err := b.resolve(ctx, p, key, len(p.Roles))
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     s.AccessKeyID,
		SecretAccessKey: s.SecretAccessKey,
		SessionToken:    s.SessionToken,
		Expiration:      s.Expiration,
		Region:          p.Region,
	}, nil
}
