package mfa

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// ykman gets the code of OATH account s.account from a YubiKey with
//
//	ykman oath accounts code --single -- ACCOUNT
//
// which prints the code alone (older versions print "ACCOUNT  CODE": the
// last field is taken). It tells the person to touch the key first, on the
// terminal or, without one, on stderr; ykman's own notice goes to stderr,
// which the AWS CLI captures. A code just used for the device is not
// returned: ykman is asked again when the next time step begins.
func (p *Prompter) ykman(ctx context.Context, r Request, s source) (string, error) {
	return p.fresh(ctx, r, "ykman", func() (string, error) {
		p.notify(fmt.Sprintf("Getting the MFA code for profile %s from your YubiKey (OATH account %s): touch it if it blinks.\n",
			printable(r.Profile), printable(s.account)))
		out, err := p.output(ctx, r, "ykman", p.stdin(), func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, s.path, "oath", "accounts", "code", "--single", "--", s.account)
		})
		if err != nil {
			return "", err
		}
		code, err := parseYkman(out)
		if err != nil {
			return "", fmt.Errorf("output of ykman for OATH account %q of profile %q: %w", printable(s.account), r.Profile, err)
		}
		return code, nil
	})
}

// errManyLines: ykman printed codes of several accounts.
var errManyLines = fmt.Errorf("%w: ykman printed more than one line", ErrInvalidCode)

// parseYkman takes the code from the one line ykman prints: the code, or
// the account and the code.
func parseYkman(out string) (string, error) {
	out = trimSpace(out)
	if strings.ContainsAny(out, "\r\n") {
		return "", errManyLines
	}
	fields := strings.Fields(out)
	if len(fields) == 0 {
		return "", errCodeEmpty
	}
	return Parse(fields[len(fields)-1])
}
