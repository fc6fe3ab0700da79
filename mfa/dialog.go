package mfa

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// dialogTitle is the title of every dialog.
const dialogTitle = "broker"

// dialog asks for the code in a window, for when broker runs without a
// terminal (an IDE or a GUI application calling credential_process). It
// asks like the terminal prompt does: again after a malformed or just-used
// code, at most typedTries times.
func (p *Prompter) dialog(ctx context.Context, r Request, s source) (string, error) {
	return p.askPerson(ctx, r, &dialogAsker{p: p, r: r, s: s})
}

type dialogAsker struct {
	p *Prompter
	r Request
	s source
}

func (a *dialogAsker) ask(ctx context.Context, question string) (string, error) {
	what := a.where()
	out, err := a.p.output(ctx, a.r, what, nil, func(ctx context.Context) *exec.Cmd {
		// One line in a dialog: the terminal's line breaks would be the
		// dialog's to make.
		return exec.CommandContext(ctx, a.s.path, dialogArgs(a.s.program, strings.Join(strings.Fields(question), " "))...)
	})
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 1 {
		// All three exit with 1 on Cancel (osascript: "User canceled").
		return "", fmt.Errorf("%s for profile %q was closed without a code: %w", what, a.r.Profile, ErrCanceled)
	}
	return out, err
}

func (a *dialogAsker) where() string { return "the " + a.s.program + " dialog" }

// giveUp shows nothing: the error says it, and a dialog just to say so
// would be one more window to close.
func (a *dialogAsker) giveUp(string) {}

// dialogArgs are the arguments that make program ask text and print the
// answer on stdout. The text goes in as one argument, never into a script.
func dialogArgs(program, text string) []string {
	switch program {
	case "zenity":
		// zenity reads --text as Pango markup.
		return []string{"--entry", "--title=" + dialogTitle, "--text=" + markupEscape(text)}
	case "kdialog":
		return []string{"--title", dialogTitle, "--inputbox", text}
	default: // osascript
		return []string{
			"-e", "on run argv",
			"-e", `text returned of (display dialog (item 1 of argv) default answer "" with title "` + dialogTitle + `")`,
			"-e", "end run",
			text,
		}
	}
}

var markupEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
