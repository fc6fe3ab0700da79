package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UsedCodes remembers, per MFA device, the last code STS accepted. STS
// takes each TOTP code once: the same code again, even for another session,
// is refused as if it were wrong. broker keeps these in the keychain, since
// its processes live too short a time to remember them.
type UsedCodes interface {
	LastUsed(serial string) (code string, at time.Time, ok bool)
	Used(serial, code string, at time.Time)
}

// SpentFor is how long a used code counts as used. A TOTP code is worthless
// once its time step (and the one STS tolerates for clock drift) is over;
// two minutes covers that with room to spare.
const SpentFor = 2 * time.Minute

// DefaultWindow is the TOTP time step when Prompter.Window is zero: 30
// seconds, as AWS virtual MFA devices and YubiKey OATH-TOTP accounts use.
const DefaultWindow = 30 * time.Second

// ErrReused means a source gave a code that was already used for the device.
var ErrReused = errors.New("MFA code already used")

// errTypedReused is what a person gets after typing used codes only.
var errTypedReused = fmt.Errorf("%w: wait for the next one", ErrReused)

// Spent reports whether code was used for serial within SpentFor before now.
func Spent(u UsedCodes, serial, code string, now time.Time) bool {
	if u == nil || serial == "" || code == "" {
		return false
	}
	last, at, ok := u.LastUsed(serial)
	return ok && last == code && now.Sub(at) < SpentFor
}

func (p *Prompter) spent(r Request, code string) bool {
	return Spent(r.Used, r.Serial, code, p.now())
}

// fresh gets a code from a source that cannot be told to give another one
// (ykman, mfa_process). When the source gives the code just used for the
// device, fresh waits until the next time step begins and asks once more;
// the same code again then is an error wrapping ErrReused.
func (p *Prompter) fresh(ctx context.Context, r Request, what string, get func() (string, error)) (string, error) {
	code, err := get()
	if err != nil || !p.spent(r, code) {
		return code, err
	}
	wait := p.untilNextStep()
	p.notify(fmt.Sprintf("The code from %s was just used; waiting %v for the next one.\n", what, wait.Round(time.Second)))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for the next MFA code from %s for profile %q: %w", what, r.Profile, context.Cause(ctx))
	case <-timer.C:
	}
	code, err = get()
	if err != nil {
		return "", err
	}
	if p.spent(r, code) {
		return "", fmt.Errorf("%s for profile %q gave the code already used for %s, again in the next time step: %w",
			what, r.Profile, printable(r.Serial), ErrReused)
	}
	return code, nil
}

// untilNextStep is how long until the next TOTP time step begins, with a
// little margin for the device's clock (a thirtieth of a step: 1 s).
func (p *Prompter) untilNextStep() time.Duration {
	w := p.window()
	n := p.now().UnixNano() % int64(w)
	if n < 0 {
		n += int64(w)
	}
	return w - time.Duration(n) + w/30
}

func (p *Prompter) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return DefaultWindow
}

func (p *Prompter) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
