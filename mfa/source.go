package mfa

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// PromptNames are the sources broker_mfa_prompt and BROKER_MFA_PROMPT may
// name.
var PromptNames = []string{"terminal", "ykman", "zenity", "kdialog", "osascript"}

type sourceKind int

const (
	sourceTerminal sourceKind = iota
	sourceYkman
	sourceDialog
)

// source is where Code gets a code when there is no token or mfa_process.
type source struct {
	kind    sourceKind
	program string    // "ykman", "zenity", "kdialog" or "osascript"
	path    string    // the program as found on PATH
	account string    // the OATH account, for ykman
	tty     *terminal // the opened terminal, for sourceTerminal
}

// choose picks the source named by p.Prompt or r.Prompt or, with none
// named, the first there is of ykman (with an OATH account configured),
// the terminal and a dialog.
func (p *Prompter) choose(r Request) (source, error) {
	name, from := p.Prompt, "BROKER_MFA_PROMPT"
	if name == "" {
		name, from = r.Prompt, fmt.Sprintf("broker_mfa_prompt of profile %q", r.Profile)
	}
	account := r.YubiKeyOATH
	if account == "" {
		account = p.YubiKeyOATH
	}
	switch name = strings.ToLower(strings.TrimSpace(name)); name {
	case "", "auto":
	case "terminal":
		t, err := openTerminal(p.TTYPath)
		if err != nil {
			return source{}, fmt.Errorf("%s is terminal but there is no terminal: %w (%w)", from, ErrNoSource, err)
		}
		return source{kind: sourceTerminal, tty: t}, nil
	case "ykman":
		if account == "" {
			// As aws-vault does: the OATH account is named after the device.
			account = r.Serial
		}
		return p.program(sourceYkman, "ykman", account, from)
	case "zenity", "kdialog", "osascript":
		return p.program(sourceDialog, name, "", from)
	default:
		return source{}, fmt.Errorf("%s is %q: want one of %s", from, printable(name), strings.Join(PromptNames, ", "))
	}

	if account != "" {
		return p.program(sourceYkman, "ykman", account, "an OATH account (broker_yubikey_oath or YKMAN_OATH_CREDENTIAL_NAME)")
	}
	t, ttyErr := openTerminal(p.TTYPath)
	if ttyErr == nil {
		return source{kind: sourceTerminal, tty: t}, nil
	}
	for _, program := range p.dialogPrograms() {
		if s, err := p.program(sourceDialog, program, "", ""); err == nil {
			return s, nil
		}
	}
	return source{}, fmt.Errorf("%w (%w)", ErrNoSource, ttyErr)
}

// program finds a source's program on PATH; from says what asked for it.
func (p *Prompter) program(kind sourceKind, program, account, from string) (source, error) {
	path, err := exec.LookPath(program)
	if err != nil {
		return source{}, fmt.Errorf("%s asks for %s, which is not installed or not on PATH: %w", from, program, err)
	}
	return source{kind: kind, program: program, path: path, account: account}, nil
}

// dialogPrograms are the dialog programs to look for, best first, when
// none is named: osascript on macOS; on other unix systems zenity and
// kdialog (kdialog first under KDE), but only when a display is there to
// show them on. Windows has none yet.
func (p *Prompter) dialogPrograms() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"osascript"}
	case "windows":
		return nil
	}
	if p.getenv("DISPLAY") == "" && p.getenv("WAYLAND_DISPLAY") == "" {
		return nil
	}
	if strings.Contains(strings.ToUpper(p.getenv("XDG_CURRENT_DESKTOP")), "KDE") {
		return []string{"kdialog", "zenity"}
	}
	return []string{"zenity", "kdialog"}
}

// getenv reads the environment the programs run with.
func (p *Prompter) getenv(key string) string {
	if p.Env == nil {
		return os.Getenv(key)
	}
	for i := len(p.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(p.Env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// notify tells the person something while they wait: on the terminal, or
// on stderr when there is none (under the AWS CLI nothing else is left).
func (p *Prompter) notify(message string) {
	if t, err := openTerminal(p.TTYPath); err == nil {
		_, _ = io.WriteString(t.out, message)
		t.Close()
		return
	}
	_, _ = io.WriteString(p.stderr(), message)
}
