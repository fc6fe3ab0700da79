package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// errNoTerminal: broker asks people things only on the terminal, never on
// stdout or stderr (the AWS CLI captures both of a credential_process helper).
var errNoTerminal = errors.New("no terminal to ask on")

// terminal is the controlling terminal, for prompts.
type terminal struct {
	f *os.File
	r *bufio.Reader
}

func openTerminal() (*terminal, error) {
	f, err := os.OpenFile(defaultTTY, os.O_RDWR, 0)
	if err != nil {
		return nil, errNoTerminal
	}
	return &terminal{f: f, r: bufio.NewReader(f)}, nil
}

func (t *terminal) Close() error { return t.f.Close() }

func (t *terminal) printf(format string, args ...any) {
	fmt.Fprintf(t.f, format, args...)
}

// line asks and reads one line, echoed.
func (t *terminal) line(prompt string) (string, error) {
	t.printf("%s", prompt)
	s, err := t.r.ReadString('\n')
	if err != nil && s == "" {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	return strings.TrimSpace(s), nil
}

// secret asks and reads one line without echo.
func (t *terminal) secret(prompt string) (string, error) {
	t.printf("%s", prompt)
	b, err := term.ReadPassword(int(t.f.Fd()))
	t.printf("\n")
	if err != nil {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// confirm asks a yes/no question; only "y" or "yes" is yes.
func (t *terminal) confirm(question string) (bool, error) {
	answer, err := t.line(question + " [y/N] ")
	if err != nil {
		return false, err
	}
	answer = strings.ToLower(answer)
	return answer == "y" || answer == "yes", nil
}

// confirmed is true with --yes, or when a person says yes on the terminal.
func confirmed(yes bool, question string) error {
	if yes {
		return nil
	}
	t, err := openTerminal()
	if err != nil {
		return withHint(errors.New("this needs confirmation and there is no terminal"), "pass --yes")
	}
	defer t.Close()
	ok, err := t.confirm(question)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("cancelled: nothing changed")
	}
	return nil
}
