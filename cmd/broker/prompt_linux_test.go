package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testpty"
)

// Prompts under a real terminal: broker runs in a session of its own whose
// controlling terminal is a pseudo-terminal, and the test types at the
// master side (internal/testpty), as mfa/tty_linux_test.go does.

// onTerminal is a broker started with p as its controlling terminal.
type onTerminal struct {
	cmd         *exec.Cmd
	out, errOut bytes.Buffer
	done        chan struct{}
	code        int
}

func (w *world) startOnTerminal(p *testpty.PTY, extraEnv []string, name string, args ...string) *onTerminal {
	w.t.Helper()
	r := &onTerminal{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	r.cmd = exec.CommandContext(ctx, name, args...)
	r.cmd.Env = append(append([]string{}, w.env...), extraEnv...)
	r.cmd.Dir = w.home
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = p.Slave(w.t), &r.out, &r.errOut
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := r.cmd.Start(); err != nil {
		cancel()
		w.t.Fatal(err)
	}
	go func() {
		defer cancel()
		err := r.cmd.Wait()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit) && exit.ExitCode() < 0:
			r.code = -int(exit.Sys().(syscall.WaitStatus).Signal()) // killed by a signal
		case errors.As(err, &exit):
			r.code = exit.ExitCode()
		}
		close(r.done)
	}()
	w.t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	return r
}

func (r *onTerminal) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("broker did not exit")
	}
	return result{r.out.String(), r.errOut.String(), r.code}
}

// TestCtrlCAtPrompts: Ctrl-C at every kind of prompt leaves the terminal's
// modes as they were, ends the line, exits 130 without a message, and
// changes nothing.
func TestCtrlCAtPrompts(t *testing.T) {
	w, u := setupDev(t)
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s

[profile bare]
mfa_serial = %s
`, u.serial, u.serial))
	config, _ := os.ReadFile(w.config)
	newID, _ := w.aws.NewUserKey(t, "alice")

	for _, tt := range []struct {
		name   string
		args   []string
		typed  []string // prompt to wait for, then what to type, in turns
		prompt string   // the prompt at which Ctrl-C comes
	}{
		{"key ID", []string{"add", "new"}, nil, "Access key ID: "},
		{"secret", []string{"add", "new"}, []string{"Access key ID: ", newID + "\r"}, "Secret access key: "},
		{"confirmation", []string{"remove", "dev"}, nil, "[y/N] "},
		{"MFA code", []string{"export", "dev"}, nil, "MFA code for " + u.serial},
		{"region", []string{"setup", "bare"}, nil, `Region for profile "bare"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := w.mustBroker("list", "--json")
			p := testpty.Open(t)
			modes := p.Modes(t)
			r := w.startOnTerminal(p, nil, brokerBin, tt.args...)
			for i := 0; i+1 < len(tt.typed); i += 2 {
				p.WaitFor(t, tt.typed[i])
				p.Type(t, tt.typed[i+1])
			}
			p.WaitFor(t, tt.prompt)
			p.Type(t, "\x03")
			res := r.wait(t)
			shown := p.Settle()
			if res.code != 130 || res.stdout != "" || res.stderr != "" {
				t.Errorf("broker %s, Ctrl-C at %q: exit %d, stdout %q, stderr %q; want 130 and nothing said",
					strings.Join(tt.args, " "), tt.prompt, res.code, res.stdout, res.stderr)
			}
			if !strings.HasSuffix(shown, "\r\n") {
				t.Errorf("the terminal's line was not ended: %q", shown)
			}
			if strings.Contains(shown, "interrupt") || strings.Contains(shown, "broker:") {
				t.Errorf("the terminal showed a message: %q", shown)
			}
			if got := p.Modes(t); got != modes {
				t.Errorf("terminal modes %#x after Ctrl-C, want %#x as before", got, modes)
			}
			if after := w.mustBroker("list", "--json"); after != before {
				t.Errorf("the keychain changed:\n%s\nthen\n%s", before, after)
			}
			if after, _ := os.ReadFile(w.config); string(after) != string(config) {
				t.Errorf("the config changed:\n%s", after)
			}
		})
	}
	if n := len(w.calls("GetSessionToken")); n != 0 {
		t.Errorf("%d sessions minted after Ctrl-C", n)
	}
}

// TestKeyIDPrompt: the key ID is read without echo and shown masked; a
// secret pasted there by mistake is never on the screen, and is refused
// before the secret is asked for.
func TestKeyIDPrompt(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig("")

	p := testpty.Open(t)
	r := w.startOnTerminal(p, nil, brokerBin, "add", "dev")
	p.WaitFor(t, "Access key ID: ")
	p.Type(t, u.secret+"\r")
	res := r.wait(t)
	shown := p.Settle()
	if res.code != 1 || res.stdout != "" || !strings.HasPrefix(res.stderr, "broker: malformed access key ID") {
		t.Errorf("a secret at the key ID prompt: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(shown, u.secret) || strings.Contains(res.stderr, u.secret) {
		t.Error("the secret pasted at the key ID prompt was shown")
	}
	if strings.Contains(shown, "Secret access key") {
		t.Errorf("the secret was asked for after a malformed key ID: %q", shown)
	}

	// The usual way: the ID shows masked, the secret not at all, and the
	// user's one MFA device is written into the profile, which broker
	// creates.
	p = testpty.Open(t)
	r = w.startOnTerminal(p, nil, brokerBin, "add", "dev")
	p.WaitFor(t, "Access key ID: ")
	p.Type(t, u.keyID+"\r")
	p.WaitFor(t, "Secret access key: ")
	p.Type(t, u.secret+"\r")
	res = r.wait(t)
	shown = p.Settle()
	if res.code != 0 {
		t.Fatalf("add dev on a terminal: exit %d, stderr %s", res.code, res.stderr)
	}
	if !strings.Contains(shown, "Access key ID: "+u.keyID[:0]+"****"+u.keyID[len(u.keyID)-4:]) {
		t.Errorf("the key ID was not shown masked: %q", shown)
	}
	if strings.Contains(shown, u.keyID) || strings.Contains(shown, u.secret) {
		t.Errorf("the terminal showed the key ID or the secret: %q", shown)
	}
	if b, _ := os.ReadFile(w.config); !strings.Contains(string(b), "[profile dev]\nmfa_serial = "+u.serial) {
		t.Errorf("config after add:\n%s", b)
	}
}
