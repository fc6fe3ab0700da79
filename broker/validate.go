package broker

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/broker-dev/broker/vault"
)

// What broker hands out, and what it asks STS for, follow from the AWS
// SDKs' refresh windows: botocore refreshes credentials with less than 15
// minutes left before every call it makes (advisory) and refuses any with
// less than 10 minutes left after a refresh (mandatory).
const (
	// MinRemaining: a session with less left is never handed out.
	MinRemaining = 15 * time.Minute
	// MinServe is how long every session broker mints is handed out at
	// least, so a profile never needs a new session (or MFA code) per call.
	MinServe = 15 * time.Minute
	// MinDuration is the shortest session broker asks STS for: handed out
	// for MinServe and then renewed with MinRemaining left.
	MinDuration = MinRemaining + MinServe
	// maxClockSkew is how far the local clock may run ahead of STS's (and
	// the answer take) before a minimal session counts as too short: AWS
	// refuses requests signed more than 5 minutes off.
	maxClockSkew = 5 * time.Minute
)

// ErrIncomplete means STS (or the cache) gave credentials with a part
// missing or empty, which no client could sign with.
var ErrIncomplete = errors.New("incomplete credentials")

// DurationError is a configured session length broker cannot serve.
type DurationError struct {
	Profile string
	Key     string // duration_seconds or broker_session_duration
	Got     time.Duration
}

func (e *DurationError) Error() string {
	return fmt.Sprintf("profile %q: %s = %s is shorter than the %s broker needs: it hands out no session with less than %s left, and each must serve at least %s",
		e.Profile, e.Key, e.value(e.Got), MinDuration, MinRemaining, MinServe)
}

// Hint says the smallest value that works, in the key's own unit.
func (e *DurationError) Hint() string {
	return fmt.Sprintf("set %s to %s or more", e.Key, e.value(MinDuration))
}

func (e *DurationError) value(d time.Duration) string {
	if e.Key == "duration_seconds" {
		return fmt.Sprint(int64(d / time.Second))
	}
	return d.String()
}

// ShortSessionError is a session STS granted with too little time left to
// hand out.
type ShortSessionError struct {
	Profile    string
	Expiration time.Time
	Left       time.Duration
	Asked      time.Duration
}

func (e *ShortSessionError) Error() string {
	return fmt.Sprintf("STS granted profile %q a session ending at %s, %s from now (asked for %s): broker hands out none with less than %s left",
		e.Profile, e.Expiration.UTC().Format(time.RFC3339), e.Left.Round(time.Second), e.Asked, MinRemaining)
}

// checkDurations refuses a plan whose sessions could not be served: one
// shorter than MinDuration would be minted again on almost every call.
func checkDurations(p Plan) error {
	if p.SessionDuration < MinDuration {
		return &DurationError{Profile: p.Profile, Key: "broker_session_duration", Got: p.SessionDuration}
	}
	for _, r := range p.Roles {
		if r.Duration < MinDuration {
			return &DurationError{Profile: r.Profile, Key: "duration_seconds", Got: r.Duration}
		}
	}
	return nil
}

// Lengths no STS credential comes near: AWS documents access key IDs of
// 16 to 128 characters, secrets are 40, and session tokens, which AWS does
// not bound, are a few KiB at most even with session tags and policies.
const (
	maxKeyIDLen  = 128
	maxSecretLen = 128
	maxTokenLen  = 32 << 10
)

// ErrOversized means STS (or the cache) gave a key ID, secret or token
// longer than any STS hands out.
var ErrOversized = errors.New("credentials longer than any STS hands out")

// checkComplete refuses credentials that are empty or hold what no STS
// credential holds (spaces, control characters, absurd lengths), and a
// missing expiry.
func checkComplete(s vault.Session) error {
	for _, v := range []string{s.AccessKeyID, s.SecretAccessKey, s.SessionToken} {
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return ErrIncomplete
		}
	}
	if len(s.AccessKeyID) > maxKeyIDLen || len(s.SecretAccessKey) > maxSecretLen || len(s.SessionToken) > maxTokenLen {
		return ErrOversized
	}
	if s.Expiration.IsZero() {
		return ErrIncomplete
	}
	return nil
}

// checkGranted refuses a session STS has just granted that could not be
// handed out for long: broker would renew it at once. It allows for a
// clock up to maxClockSkew ahead of STS's.
func (b *Broker) checkGranted(p Plan, level int, s vault.Session) error {
	asked := p.SessionDuration
	if level > 0 {
		asked = p.Roles[level-1].Duration
	}
	left := s.Expiration.Sub(b.now())
	if left <= 0 {
		return fmt.Errorf("STS returned a session that has already expired (%s)", s.Expiration.UTC().Format(time.RFC3339))
	}
	if left < MinDuration-maxClockSkew {
		return &ShortSessionError{Profile: p.Profile, Expiration: s.Expiration, Left: left, Asked: asked}
	}
	// Later than asked for, beyond a clock behind STS's: no STS grants
	// that, and an agent would hold it for as long.
	if left > asked+maxClockSkew {
		return fmt.Errorf("STS granted profile %q a session ending at %s, %s from now, but %s was asked for: refused",
			p.Profile, s.Expiration.UTC().Format(time.RFC3339), left.Round(time.Second), asked)
	}
	return nil
}
