package mfa

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testpty"
	"golang.org/x/sys/unix"
)

type result struct {
	code        string
	interactive bool
	err         error
}

func codeAsync(ctx context.Context, p *Prompter, r Request) <-chan result {
	c := make(chan result, 1)
	go func() {
		code, interactive, err := p.Code(ctx, r)
		c <- result{code, interactive, err}
	}()
	return c
}

// captureStdStreams points os.Stdout and os.Stderr at files until the test
// ends, and returns a function that reports what was written to them.
func captureStdStreams(t *testing.T) func() string {
	t.Helper()
	dir := t.TempDir()
	stdout, stderr := os.Stdout, os.Stderr
	outF, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout, os.Stderr = outF, errF
	t.Cleanup(func() {
		os.Stdout, os.Stderr = stdout, stderr
		outF.Close()
		errF.Close()
	})
	return func() string {
		a, _ := os.ReadFile(outF.Name())
		b, _ := os.ReadFile(errF.Name())
		return string(a) + string(b)
	}
}

var alice = Request{Profile: "dev", Serial: "arn:aws:iam::123456789012:mfa/alice"}

const alicePrompt = "MFA code for arn:aws:iam::123456789012:mfa/alice (profile dev): "

func TestPromptOnTerminal(t *testing.T) {
	written := captureStdStreams(t) // not parallel: it swaps os.Stdout
	tty := testpty.Open(t)
	done := codeAsync(context.Background(), &Prompter{TTYPath: tty.Path}, alice)

	tty.WaitFor(t, alicePrompt)
	tty.Type(t, "123456\n")
	res := <-done
	if res.err != nil || res.code != "123456" || !res.interactive {
		t.Fatalf("Code = %q, %v, %v; want 123456 typed by a person", res.code, res.interactive, res.err)
	}
	if got := tty.Shown(); !strings.HasPrefix(got, alicePrompt) {
		t.Errorf("terminal showed %q; want it to start with the prompt", got)
	}
	if got := written(); got != "" {
		t.Errorf("stdout and stderr got %q; want nothing", got)
	}
}

func TestPromptAgainOnMalformedCode(t *testing.T) {
	tty := testpty.Open(t)
	done := codeAsync(context.Background(), &Prompter{TTYPath: tty.Path}, alice)

	tty.WaitFor(t, alicePrompt)
	tty.Type(t, "12345\n")
	tty.WaitFor(t, "That is not a 6-digit code. "+alicePrompt)
	tty.Type(t, strings.Repeat("1", 1000)+"\n") // longer than any buffer
	tty.WaitForCount(t, "That is not a 6-digit code. "+alicePrompt, 2)
	tty.Type(t, "  654321 \n")
	res := <-done
	if res.err != nil || res.code != "654321" || !res.interactive {
		t.Fatalf("Code = %q, %v, %v; want 654321 on the third try", res.code, res.interactive, res.err)
	}
}

func TestPromptGivesUp(t *testing.T) {
	tty := testpty.Open(t)
	done := codeAsync(context.Background(), &Prompter{TTYPath: tty.Path}, alice)

	// Type ahead: all three lines are waiting before the first prompt.
	tty.Type(t, "12345\nabcdef\n1234567\n")
	res := <-done
	if !errors.Is(res.err, ErrInvalidCode) {
		t.Fatalf("error = %v; want ErrInvalidCode", res.err)
	}
	for _, typed := range []string{"12345", "abcdef"} {
		if strings.Contains(res.err.Error(), typed) {
			t.Errorf("error %q shows what was typed", res.err)
		}
	}
	tty.WaitForCount(t, alicePrompt, 3)
	tty.WaitFor(t, "giving up")
}

func TestPromptAfterRejectedCode(t *testing.T) {
	tty := testpty.Open(t)
	r := alice
	r.Attempt = 1
	done := codeAsync(context.Background(), &Prompter{TTYPath: tty.Path}, r)

	tty.WaitFor(t, "That code was not accepted. "+alicePrompt)
	tty.Type(t, "111111\n")
	if res := <-done; res.err != nil || res.code != "111111" {
		t.Fatalf("Code = %q, %v; want 111111", res.code, res.err)
	}
}

func TestPromptContextCanceled(t *testing.T) {
	tty := testpty.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := codeAsync(ctx, &Prompter{TTYPath: tty.Path}, alice)

	tty.WaitFor(t, alicePrompt)
	cancel()
	select {
	case res := <-done:
		if !errors.Is(res.err, context.Canceled) {
			t.Fatalf("error = %v; want context.Canceled", res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Code kept waiting for a line after its context was canceled")
	}
}

// TestProcessOnControllingTerminal runs Code in a new session whose
// controlling terminal is a pseudo-terminal, with an mfa_process that reads
// the code from the terminal. In a background process group that read
// would stop the command (SIGTTIN) until the timeout; Code hands it the
// terminal for the run and takes it back afterwards.
func TestProcessOnControllingTerminal(t *testing.T) {
	tty := testpty.Open(t)
	slave := tty.Slave(t)
	out := filepath.Join(t.TempDir(), "result")

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOnControllingTerminal$", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), "BROKER_MFA_HELPER_RESULT="+out)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()

	tty.WaitFor(t, "code from the process? ")
	tty.Type(t, "246810\n")
	if err := cmd.Wait(); err != nil {
		t.Errorf("helper: %v; terminal showed %q", err, tty.Shown())
	}
	got, _ := os.ReadFile(out)
	if want := "code=246810 err=<nil> foreground=true"; string(got) != want {
		t.Errorf("helper reported %q; want %q", got, want)
	}
}

func TestHelperOnControllingTerminal(t *testing.T) {
	out := os.Getenv("BROKER_MFA_HELPER_RESULT")
	if out == "" {
		t.Skip("run by TestProcessOnControllingTerminal")
	}
	p := &Prompter{ProcessTimeout: 20 * time.Second}
	code, _, err := p.Code(context.Background(), Request{
		Process: `printf 'code from the process? ' >&2; read -r c; echo "$c"`,
	})
	// Broker must own its terminal again.
	foreground := false
	if tty, err := os.Open("/dev/tty"); err == nil {
		fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
		foreground = err == nil && fg == unix.Getpgrp()
		tty.Close()
	}
	result := fmt.Sprintf("code=%s err=%v foreground=%v", code, err, foreground)
	if err := os.WriteFile(out, []byte(result), 0o600); err != nil {
		t.Fatal(err)
	}
}
