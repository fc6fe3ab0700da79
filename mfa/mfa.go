// Package mfa finds an MFA token code for a profile: from a flag, from the
// profile's mfa_process command, from a YubiKey through ykman, or from a
// person at the terminal or, without one, in a dialog (zenity, kdialog or
// osascript).
//
// It makes no STS calls and caches nothing; what codes were used is the
// caller's to keep (UsedCodes). It never writes to stdout: the AWS CLI
// captures a credential_process helper's stdout and stderr, so a prompt goes
// to the terminal device (/dev/tty) instead, and a notice ("touch your
// YubiKey") goes to stderr only when there is no terminal. A code is treated
// as a secret: no error from this package contains one.
package mfa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrNoSource means there is no way to get a code: no --mfa-token flag, no
// mfa_process or YubiKey account in the profile, no terminal to ask on and
// no dialog program to ask with.
var ErrNoSource = errors.New("no MFA code source: pass --mfa-token, set mfa_process or broker_yubikey_oath in the profile, " +
	"run from a terminal, or install zenity or kdialog (osascript on macOS)")

// ErrCanceled means the person closed the MFA dialog without a code.
var ErrCanceled = errors.New("MFA prompt canceled")

// ErrInvalidCode means a code is not exactly 6 ASCII digits.
var ErrInvalidCode = errors.New("invalid MFA code")

// Parse's errors are fixed values: their text never depends on the input,
// so a mistyped or misplaced secret cannot end up in a log.
var (
	errCodeEmpty    = fmt.Errorf("%w: nothing entered", ErrInvalidCode)
	errCodeNotDigit = fmt.Errorf("%w: only the digits 0-9 are allowed", ErrInvalidCode)
	errCodeLength   = fmt.Errorf("%w: want exactly 6 digits", ErrInvalidCode)
)

// codeLen is the length of a TOTP code as AWS accepts it.
const codeLen = 6

// Parse trims surrounding white space (including a trailing newline) and
// returns s if what is left is exactly 6 ASCII digits. Otherwise it returns
// an error wrapping ErrInvalidCode that does not repeat the input.
func Parse(s string) (string, error) {
	s = trimSpace(s)
	if s == "" {
		return "", errCodeEmpty
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", errCodeNotDigit
		}
	}
	if len(s) != codeLen {
		return "", errCodeLength
	}
	return s, nil
}

// trimSpace is strings.TrimSpace limited to ASCII white space, so that a
// stray non-breaking space is reported as a wrong character rather than
// silently accepted.
func trimSpace(s string) string {
	isSpace := func(c byte) bool {
		return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
	}
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// Request describes the code wanted.
type Request struct {
	Profile     string    // profile being resolved, for the prompt text
	Serial      string    // MFA device ARN or serial number
	Process     string    // the profile's mfa_process command ("" if none)
	YubiKeyOATH string    // the profile's broker_yubikey_oath: OATH account for ykman ("" if none)
	Prompt      string    // the profile's broker_mfa_prompt: a source by name ("" chooses)
	Used        UsedCodes // the codes already used per device; nil skips the reuse check
	Attempt     int       // 0 the first time; >0 when STS rejected the previous code
}

// Prompter gets codes. Its zero value is ready to use.
type Prompter struct {
	Token          string        // from --mfa-token: used first, never interactive
	Prompt         string        // BROKER_MFA_PROMPT: overrides Request.Prompt
	YubiKeyOATH    string        // YKMAN_OATH_CREDENTIAL_NAME: OATH account when the profile names none
	TTYPath        string        // terminal to prompt on; default /dev/tty (the console on Windows)
	ProcessTimeout time.Duration // how long mfa_process, ykman or a dialog may run; default 2 minutes
	Stderr         io.Writer     // where their stderr goes; default os.Stderr
	Env            []string      // environment for them; nil means os.Environ()
	Stdin          io.Reader     // mfa_process's and ykman's stdin; default os.Stdin
	Window         time.Duration // the TOTP time step; default 30s
	Now            func() time.Time
}

// DefaultProcessTimeout is how long mfa_process may run when
// Prompter.ProcessTimeout is zero.
const DefaultProcessTimeout = 2 * time.Minute

// Code returns a validated code, and interactive=true when a person typed it
// (on the terminal or in a dialog); the caller may then ask again, with
// Request.Attempt raised, when STS rejects it.
//
// Sources are tried in order: p.Token if set; else r.Process if not empty;
// else the source named by p.Prompt or r.Prompt (terminal, ykman, zenity,
// kdialog or osascript); else ykman if an OATH account is configured; else
// a prompt on the terminal if it can be opened; else a dialog if a dialog
// program is installed and a display is there; else ErrNoSource. A source
// that is present but fails is an error: the next one is not tried.
//
// With r.Used set, a code that was just used for the device (STS takes each
// code once) is not returned: a person is asked for the next one, and ykman
// is asked again when the next time step begins. mfa_process gets that
// second chance only after STS rejected its code (r.Attempt > 0), as broker
// cannot know that the command gives time-based codes.
func (p *Prompter) Code(ctx context.Context, r Request) (code string, interactive bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	switch {
	case p.Token != "":
		code, err := Parse(p.Token)
		if err != nil {
			return "", false, fmt.Errorf("mfa token from the command line: %w", err)
		}
		if r.Attempt > 0 && p.spent(r, code) {
			return "", false, fmt.Errorf("the code passed with --mfa-token was already used for %s; STS accepts each code once: pass the next one: %w", printable(r.Serial), ErrReused)
		}
		return code, false, nil
	case r.Process != "":
		get := func() (string, error) { return p.runProcess(ctx, r) }
		if r.Attempt > 0 {
			code, err := p.fresh(ctx, r, "mfa_process", get)
			return code, false, err
		}
		code, err := get()
		return code, false, err
	}
	src, err := p.choose(r)
	if err != nil {
		return "", false, err
	}
	switch src.kind {
	case sourceYkman:
		code, err := p.ykman(ctx, r, src)
		return code, false, err
	case sourceTerminal:
		code, err := p.prompt(ctx, r, src.tty)
		return code, err == nil, err
	default:
		code, err := p.dialog(ctx, r, src)
		return code, err == nil, err
	}
}

func (p *Prompter) processTimeout() time.Duration {
	if p.ProcessTimeout > 0 {
		return p.ProcessTimeout
	}
	return DefaultProcessTimeout
}

func (p *Prompter) stderr() io.Writer {
	if p.Stderr != nil {
		return p.Stderr
	}
	return os.Stderr
}

func (p *Prompter) stdin() io.Reader {
	if p.Stdin != nil {
		return p.Stdin
	}
	return os.Stdin
}
