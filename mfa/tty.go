package mfa

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
)

const (
	// typedTries is how many malformed entries a person gets before
	// Code gives up with ErrInvalidCode.
	typedTries = 3
	// maxLine bounds a typed line; a code is far shorter.
	maxLine = 256
)

// terminal is where a person is asked: one read-write device on unix, the
// console's input and output buffers on Windows.
type terminal struct {
	name string
	in   *os.File
	out  *os.File
}

func (t *terminal) Close() error {
	err := t.in.Close()
	if t.out != t.in {
		err = errors.Join(err, t.out.Close())
	}
	return err
}

// interrupt makes a pending read return. It works where the device is
// pollable (ttys and FIFOs on Linux); elsewhere the read ends at the next
// line typed.
func (t *terminal) interrupt() { _ = t.in.SetReadDeadline(time.Unix(1, 0)) }

// prompt asks on the terminal t, which it closes, until a well-formed code
// is typed, at most typedTries times.
func (p *Prompter) prompt(ctx context.Context, r Request, t *terminal) (string, error) {
	defer t.Close()
	stop := context.AfterFunc(ctx, t.interrupt)
	defer stop()
	return p.askPerson(ctx, r, &terminalAsker{t: t, in: bufio.NewReaderSize(t.in, maxLine)})
}

// asker puts a question to a person: on the terminal or in a dialog. An
// answer that cannot be a code may come as an error wrapping ErrInvalidCode.
type asker interface {
	ask(ctx context.Context, question string) (answer string, err error)
	where() string         // for errors: "/dev/tty", "the zenity dialog"
	giveUp(message string) // a last word, where the person can see it
}

// askPerson asks until a well-formed code that was not just used comes,
// at most typedTries times.
func (p *Prompter) askPerson(ctx context.Context, r Request, a asker) (string, error) {
	question := promptText(r)
	lead := ""
	if r.Attempt > 0 {
		lead = "That code was not accepted. "
	}
	var invalid error
	for range typedTries {
		line, err := a.ask(ctx, lead+question)
		if err != nil && !errors.Is(err, ErrInvalidCode) {
			return "", err
		}
		var code string
		if err == nil {
			code, err = Parse(line)
		}
		switch {
		case err != nil:
			invalid, lead = err, "That is not a 6-digit code. "
		case p.spent(r, code):
			invalid, lead = errTypedReused, "That code was just used; wait for the next one.\n"
		default:
			return code, nil
		}
	}
	if errors.Is(invalid, ErrReused) {
		a.giveUp("That code was used already; giving up.\n")
	} else {
		a.giveUp("That is not a 6-digit code either; giving up.\n")
	}
	return "", fmt.Errorf("no valid MFA code typed on %s in %d tries: %w", a.where(), typedTries, invalid)
}

// terminalAsker asks on a terminal.
type terminalAsker struct {
	t  *terminal
	in *bufio.Reader
}

func (a *terminalAsker) ask(ctx context.Context, question string) (string, error) {
	if _, err := io.WriteString(a.t.out, question); err != nil {
		return "", fmt.Errorf("writing MFA prompt to %s: %w", a.t.name, err)
	}
	line, err := readLine(a.in)
	switch {
	case err == nil, errors.Is(err, ErrInvalidCode):
		// A line too long to be a code is a wrong answer, not a failure.
		return line, err
	case ctx.Err() != nil:
		return "", fmt.Errorf("reading MFA code from %s: %w", a.t.name, context.Cause(ctx))
	default:
		return "", fmt.Errorf("reading MFA code from %s: %w", a.t.name, err)
	}
}

func (a *terminalAsker) where() string { return a.t.name }

func (a *terminalAsker) giveUp(message string) { _, _ = io.WriteString(a.t.out, message) }

// readLine reads one line, without its end. A line longer than the reader's
// buffer is read to its end and reported as errCodeLength. A last line
// without a newline counts; end of input before any text is io.EOF.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return "", errCodeLength
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return "", err
	}
	return string(line), nil
}

// promptText is the question, e.g.
// "MFA code for arn:aws:iam::123456789012:mfa/alice (profile dev): ".
func promptText(r Request) string {
	serial, profile := printable(r.Serial), printable(r.Profile)
	switch {
	case serial != "" && profile != "":
		return fmt.Sprintf("MFA code for %s (profile %s): ", serial, profile)
	case serial != "":
		return fmt.Sprintf("MFA code for %s: ", serial)
	case profile != "":
		return fmt.Sprintf("MFA code for profile %s: ", profile)
	default:
		return "MFA code: "
	}
}

// printable replaces control characters, so that a name read from a config
// file cannot send escape sequences to the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
