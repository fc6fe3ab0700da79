package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"golang.org/x/term"
)

// errNoTerminal: broker asks people things only on the terminal, never on
// stdout or stderr (the AWS CLI captures both of a credential_process helper).
var errNoTerminal = errors.New("no terminal to ask on")

// terminal is the controlling terminal, for prompts.
//
// Each answer is read in raw mode through x/term's line editor, so Ctrl-C
// arrives as a key rather than as a signal: the prompt ends, the terminal's
// modes are put back as they were, and the caller gets an interruptedError
// (exit 130), whether the answer was being echoed or not. One editor serves
// every question, so answers typed ahead are not lost between them.
type terminal struct {
	f  *os.File
	in *keyWatcher
	tt *term.Terminal
}

func openTerminal() (*terminal, error) {
	f, err := os.OpenFile(defaultTTY, os.O_RDWR, 0)
	if err != nil {
		return nil, errNoTerminal
	}
	in := &keyWatcher{r: f}
	rw := struct {
		io.Reader
		io.Writer
	}{in, f}
	return &terminal{f: f, in: in, tt: term.NewTerminal(rw, "")}, nil
}

func (t *terminal) Close() error { return t.f.Close() }

func (t *terminal) printf(format string, args ...any) {
	fmt.Fprintf(t.f, format, args...)
}

// keyWatcher notes a Ctrl-C passing by: x/term's editor reports Ctrl-C and
// Ctrl-D alike, as io.EOF.
type keyWatcher struct {
	r     io.Reader
	ctrlC bool
}

func (k *keyWatcher) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	for _, b := range p[:n] {
		if b == 3 {
			k.ctrlC = true
		}
	}
	return n, err
}

// read asks prompt and reads one line, echoed or not.
func (t *terminal) read(prompt string, echo bool) (string, error) {
	fd := int(t.f.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	defer term.Restore(fd, old)
	if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
		_ = t.tt.SetSize(w, h)
	}
	var s string
	if echo {
		t.tt.SetPrompt(prompt)
		s, err = t.tt.ReadLine()
	} else {
		s, err = t.tt.ReadPassword(prompt)
	}
	if errors.Is(err, io.EOF) && t.in.ctrlC {
		return "", interruptedError{syscall.SIGINT}
	}
	if err != nil {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	return strings.TrimSpace(s), nil
}

// line asks and reads one line, echoed.
func (t *terminal) line(prompt string) (string, error) { return t.read(prompt, true) }

// secret asks and reads one line without echo.
func (t *terminal) secret(prompt string) (string, error) { return t.read(prompt, false) }

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
