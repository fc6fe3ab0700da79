package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Prompts under a real terminal: broker runs in a session of its own whose
// controlling terminal is a pseudo-terminal, and the test types at the
// master side, as mfa/tty_linux_test.go does.

type pty struct {
	master *os.File
	slave  *os.File
	mu     sync.Mutex
	seen   strings.Builder
	more   chan struct{}
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var n uint32
	conn, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil {
		t.Fatalf("unlocking pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &pty{master: m, slave: s, more: make(chan struct{})}
	go p.read()
	return p
}

func (p *pty) read() {
	buf := make([]byte, 1024)
	for {
		n, err := p.master.Read(buf)
		p.mu.Lock()
		p.seen.Write(buf[:n])
		close(p.more)
		p.more = make(chan struct{})
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitFor waits until the terminal has shown want.
func (p *pty) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		seen, more := p.seen.String(), p.more
		p.mu.Unlock()
		if strings.Contains(seen, want) {
			return
		}
		select {
		case <-more:
		case <-timeout:
			t.Fatalf("terminal never showed %q; it showed %q", want, seen)
		}
	}
}

func (p *pty) shown() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String()
}

// settle waits until the terminal has shown nothing new for a moment.
func (p *pty) settle() string {
	for {
		p.mu.Lock()
		more := p.more
		p.mu.Unlock()
		select {
		case <-more:
		case <-time.After(200 * time.Millisecond):
			return p.shown()
		}
	}
}

func (p *pty) type_(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// modes are the terminal's local modes: echo, canonical input, signals.
func (p *pty) modes(t *testing.T) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag & (unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN)
}

// onTerminal is a broker started with p as its controlling terminal.
type onTerminal struct {
	cmd         *exec.Cmd
	out, errOut bytes.Buffer
	done        chan struct{}
	code        int
}

func (w *world) startOnTerminal(p *pty, extraEnv []string, name string, args ...string) *onTerminal {
	w.t.Helper()
	r := &onTerminal{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	r.cmd = exec.CommandContext(ctx, name, args...)
	r.cmd.Env = append(append([]string{}, w.env...), extraEnv...)
	r.cmd.Dir = w.home
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = p.slave, &r.out, &r.errOut
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
			p := openPTY(t)
			modes := p.modes(t)
			r := w.startOnTerminal(p, nil, brokerBin, tt.args...)
			for i := 0; i+1 < len(tt.typed); i += 2 {
				p.waitFor(t, tt.typed[i])
				p.type_(t, tt.typed[i+1])
			}
			p.waitFor(t, tt.prompt)
			p.type_(t, "\x03")
			res := r.wait(t)
			shown := p.settle()
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
			if got := p.modes(t); got != modes {
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

	p := openPTY(t)
	r := w.startOnTerminal(p, nil, brokerBin, "add", "dev")
	p.waitFor(t, "Access key ID: ")
	p.type_(t, u.secret+"\r")
	res := r.wait(t)
	shown := p.settle()
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
	p = openPTY(t)
	r = w.startOnTerminal(p, nil, brokerBin, "add", "dev")
	p.waitFor(t, "Access key ID: ")
	p.type_(t, u.keyID+"\r")
	p.waitFor(t, "Secret access key: ")
	p.type_(t, u.secret+"\r")
	res = r.wait(t)
	shown = p.settle()
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
