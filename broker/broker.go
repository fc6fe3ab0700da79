// Package broker turns a profile into MFA-gated STS session credentials:
// source key → MFA session → role(s), with a keychain cache and single flight
// across processes. It never prints, prompts or exits: the CLI does.
package broker

import (
	"context"
	"errors"
	"fmt"
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
	Region  string               // fallback region (AWS_REGION) when the profile has none
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

// Plan is how a profile's credentials are made.
type Plan struct {
	Profile         string
	Root            string // the profile whose long-term key signs the first call
	Region          string
	MFASerial       string
	MFAProcess      string
	YubiKeyOATH     string // broker_yubikey_oath: the OATH account ykman reads the code from
	MFAPrompt       string // broker_mfa_prompt: the source of codes by name (terminal, ykman, zenity, ...)
	NoMFA           bool
	SessionDuration time.Duration
	Roles           []Role // assumed in order, starting from the root's MFA session
}

// Role is one AssumeRole step.
type Role struct {
	Profile     string
	ARN         string
	ExternalID  string
	SessionName string
	Duration    time.Duration
}

// Plan reads the profile and its source_profile chain from the config.
func (b *Broker) Plan(name string) (Plan, error) {
	p, err := b.Config.Profile(name)
	if errors.Is(err, awsconfig.ErrProfileNotFound) && b.hasKey(name) {
		// `broker add` works for a profile the config does not name yet.
		p, err = awsconfig.Profile{Name: name}, nil
	}
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Profile: name, Region: p.Region, MFASerial: p.MFASerial, MFAProcess: p.MFAProcess, NoMFA: p.NoMFA,
		YubiKeyOATH: p.Values["broker_yubikey_oath"], MFAPrompt: p.Values["broker_mfa_prompt"]}
	chain := []awsconfig.Profile{p}
	seen := map[string]bool{name: true}
	for cur := p; cur.SourceProfile != "" && cur.SourceProfile != cur.Name; {
		if seen[cur.SourceProfile] {
			names := []string{}
			for _, c := range chain {
				names = append(names, c.Name)
			}
			return Plan{}, &awsconfig.LoopError{Chain: append(names, cur.SourceProfile), Key: "source_profile"}
		}
		seen[cur.SourceProfile] = true
		next, err := b.Config.Profile(cur.SourceProfile)
		if err != nil {
			return Plan{}, fmt.Errorf("source_profile of %q: %w", cur.Name, err)
		}
		chain = append(chain, next)
		cur = next
	}
	root := chain[len(chain)-1]
	plan.Root = root.Name
	plan.SessionDuration = root.SessionDuration
	if p.SessionDuration != 0 {
		plan.SessionDuration = p.SessionDuration
	}
	if plan.SessionDuration == 0 {
		plan.SessionDuration = DefaultSessionDuration
	}
	// The nearest profile that says something about MFA or region decides.
	for _, c := range chain[1:] {
		if plan.MFASerial == "" && !plan.NoMFA {
			plan.MFASerial, plan.MFAProcess, plan.NoMFA = c.MFASerial, c.MFAProcess, c.NoMFA
		} else if plan.MFAProcess == "" {
			plan.MFAProcess = c.MFAProcess
		}
		if plan.YubiKeyOATH == "" {
			plan.YubiKeyOATH = c.Values["broker_yubikey_oath"]
		}
		if plan.MFAPrompt == "" {
			plan.MFAPrompt = c.Values["broker_mfa_prompt"]
		}
		if plan.Region == "" {
			plan.Region = c.Region
		}
	}
	if plan.Region == "" {
		plan.Region = b.Region
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		if c.RoleARN == "" {
			continue
		}
		d := c.RoleDuration
		if d == 0 {
			d = DefaultRoleDuration
		}
		plan.Roles = append(plan.Roles, Role{
			Profile: c.Name, ARN: c.RoleARN, ExternalID: c.ExternalID,
			SessionName: c.RoleSessionName, Duration: d,
		})
	}
	return plan, nil
}

func (b *Broker) hasKey(name string) bool {
	_, err := b.Vault.Key(name)
	return err == nil
}
