package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/internal/atomicfile"
	"github.com/broker-dev/broker/internal/rundir"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
)

// hinted is an error with advice on what to do next (age's errorWithHint).
type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

func withHint(err error, format string, args ...any) error {
	return hinted{err: err, hint: fmt.Sprintf(format, args...)}
}

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// report writes one "broker: ..." line and, where it helps, a "hint: ..." line.
func report(w io.Writer, err error) {
	fmt.Fprintf(w, "broker: %s\n", oneLine(err.Error()))
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(w, "hint: %s\n", hint)
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// hintFor says what to do about the errors a user can fix.
func hintFor(err error) string {
	var (
		h        hinted
		noKey    *broker.NoKeyError
		noMFA    *broker.NoMFAError
		rejected *broker.RejectedKeyError
		mfaRej   *broker.MFARejectedError
		down     *broker.UnreachableError
		duration *broker.DurationError
		short    *broker.ShortSessionError
		foreign  *rundir.ForeignError
		backend  *vault.BackendError
		syntax   *awsconfig.SyntaxError
		loop     *awsconfig.LoopError
		conflict *awsconfig.ConflictError
		links    *atomicfile.LinksError
		usage    usageError
		kstored  *broker.KeyStoredError
		unread   *vault.UnreadableError
		tag      *broker.TagError
	)
	switch {
	case errors.As(err, &h):
		return h.hint
	case errors.As(err, &kstored) && kstored.Err != nil:
		return fmt.Sprintf("a newer broker may have stored it: use that one; or `broker add --force %s` replaces it, `broker remove %s` deletes it", kstored.Profile, kstored.Profile)
	case errors.As(err, &kstored):
		return fmt.Sprintf("`broker add --force %s` replaces it (the replaced key stays valid in IAM: `broker keys %s` lists the user's keys); `broker add %s --mfa-serial ARN` sets only the profile's MFA device", kstored.Profile, kstored.Profile, kstored.Profile)
	case errors.As(err, &unread):
		return fmt.Sprintf("a newer broker may have stored it: use that one; or `broker add --force %s` replaces it, `broker remove %s` deletes it", unread.Profile, unread.Profile)
	case errors.As(err, &tag) && tag.Untagged:
		return fmt.Sprintf("add %s to the profile's session_tags, or leave it out of %s", tag.Key, tag.Setting)
	case errors.As(err, &tag):
		return fmt.Sprintf("leave %s out of %s: the session of profile %q passes it on already", tag.Key, tag.Setting, tag.Inherited)
	case errors.As(err, &noKey):
		return fmt.Sprintf("store one with: broker add %s", noKey.Profile)
	case errors.As(err, &noMFA):
		return fmt.Sprintf("add `mfa_serial = arn:aws:iam::ACCOUNT:mfa/NAME` to the profile (`broker add %s --mfa-serial ARN` does it), or `broker_no_mfa = true` for an account that cannot have MFA", noMFA.Profile)
	case errors.As(err, &rejected):
		return fmt.Sprintf("the key may be deleted, inactive or mistyped: store a working one with `broker add %s`", rejected.Profile)
	case errors.As(err, &mfaRej):
		return "wait for the next code from your MFA device and try again"
	case errors.As(err, &down):
		return "check your network, or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_STS if set; cached sessions keep working while they last"
	case errors.As(err, &duration):
		return duration.Hint()
	case errors.As(err, &short):
		return "check the system clock (broker measures the time left by it); run again to ask STS once more"
	case errors.As(err, &foreign):
		return foreign.Hint()
	case errors.As(err, &backend):
		return backend.Hint
	case errors.Is(err, vault.ErrNoBackend):
		return "install and start a keychain (gnome-keyring, kwallet or pass), or set BROKER_BACKEND=keyctl to use the kernel keyring"
	case errors.Is(err, vault.ErrLocked):
		return "unlock your keychain and try again"
	case errors.Is(err, awsconfig.ErrProfileNotFound):
		return "list profiles with `broker list`; profiles live in ~/.aws/config (or $AWS_CONFIG_FILE)"
	case errors.As(err, &syntax):
		return "fix that line of the config file"
	case errors.As(err, &loop):
		return "a profile's source_profile or include_profile must not lead back to itself"
	case errors.As(err, &conflict):
		return "pass --force to replace it"
	case errors.As(err, &links):
		return fmt.Sprintf("find its other names with `find ~ -samefile %s` and make them symlinks to it (broker edits a symlink's target), or remove them", links.Path)
	case errors.Is(err, atomicfile.ErrBusy):
		return "another program (`aws configure set`?) was writing the file at the same time: run the command again"
	case errors.Is(err, mfa.ErrNoSource):
		return "pass --mfa-token CODE, set mfa_process or broker_yubikey_oath in the profile, run broker from a terminal, or install zenity/kdialog for a dialog"
	case errors.Is(err, mfa.ErrInvalidCode):
		return "an MFA code is the 6 digits your device shows"
	case errors.As(err, &usage):
		return "see `broker --help`"
	}
	return ""
}
