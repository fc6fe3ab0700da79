package broker

import (
	"errors"
	"fmt"
)

// ErrNoKey means the profile's chain ends in a profile with no long-term key in the keychain.
var ErrNoKey = errors.New("no access key stored")

// NoKeyError names the profile whose key is missing.
type NoKeyError struct{ Profile string }

func (e *NoKeyError) Error() string {
	return fmt.Sprintf("profile %q: %v", e.Profile, ErrNoKey)
}

func (e *NoKeyError) Unwrap() error { return ErrNoKey }

// NoMFAError means the profile has no MFA device configured and has not opted out.
type NoMFAError struct{ Profile string }

func (e *NoMFAError) Error() string {
	return fmt.Sprintf("profile %q has no mfa_serial: broker only hands out MFA-gated sessions", e.Profile)
}

// RejectedKeyError means STS or IAM refused the long-term key itself
// (InvalidClientTokenId, SignatureDoesNotMatch): deleted, deactivated or mistyped.
type RejectedKeyError struct {
	Profile string
	KeyID   string // masked
	Err     error
}

func (e *RejectedKeyError) Error() string {
	return fmt.Sprintf("AWS rejected the access key %s of profile %q", e.KeyID, e.Profile)
}

func (e *RejectedKeyError) Unwrap() error { return e.Err }

// MFARejectedError means STS refused the MFA code.
type MFARejectedError struct {
	Serial string
	Err    error
}

func (e *MFARejectedError) Error() string {
	return fmt.Sprintf("AWS rejected the MFA code for %s", e.Serial)
}

func (e *MFARejectedError) Unwrap() error { return e.Err }

// UnreachableError means no answer came from an AWS endpoint.
type UnreachableError struct {
	Service  string
	Endpoint string
	Err      error
}

func (e *UnreachableError) Error() string {
	where := e.Endpoint
	if where == "" {
		where = "its default endpoint"
	}
	return fmt.Sprintf("%s is unreachable at %s", e.Service, where)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// LockTimeoutError means another broker process held the session lock too long
// (usually: it is waiting for someone to type an MFA code).
type LockTimeoutError struct{ Profile string }

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("timed out waiting for another broker process resolving profile %q", e.Profile)
}

// KeyRotatedError means another broker rotated the key of Profile while
// this one waited for its lock; this one changed nothing.
type KeyRotatedError struct{ Profile string }

func (e *KeyRotatedError) Error() string {
	return fmt.Sprintf("profile %q's key was just rotated by another broker; nothing changed", e.Profile)
}

// MaskKeyID shows only the last four characters of an access key ID: ****WXYZ.
func MaskKeyID(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return "****" + id[len(id)-4:]
}
