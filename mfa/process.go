package mfa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// maxProcessOutput bounds what is read from a command's stdout. A code is
// 6 digits; anything near this size is a misconfigured command.
const maxProcessOutput = 1024

// waitDelay is how long Wait keeps reading stdout after the process has
// exited or been killed. It only matters when something the command started
// in the background still holds its stdout open.
const waitDelay = time.Second

var (
	errProcessTimeout = errors.New("mfa_process timed out")
	errTooMuchOutput  = errors.New("mfa_process printed too much")
)

// runProcess runs the profile's mfa_process through the shell and parses
// what it prints on stdout.
func (p *Prompter) runProcess(ctx context.Context, r Request) (string, error) {
	out, err := p.output(ctx, r, "mfa_process", p.stdin(), func(ctx context.Context) *exec.Cmd {
		return shellCommand(ctx, r.Process)
	})
	if err != nil {
		return "", err
	}
	code, err := Parse(out)
	if err != nil {
		return "", fmt.Errorf("output of mfa_process for profile %q: %w", r.Profile, err)
	}
	return code, nil
}

// output runs the command newCmd makes and returns what it printed on
// stdout: mfa_process, ykman and the dialogs all run this way. The command
// runs in its own process group (a job object on Windows) so that a timeout
// stops everything it started. what names the command in errors, which
// never quote its output: it may hold a secret.
func (p *Prompter) output(ctx context.Context, r Request, what string, stdin io.Reader, newCmd func(context.Context) *exec.Cmd) (string, error) {
	timeout := p.processTimeout()
	runCtx, stopTimer := context.WithTimeoutCause(ctx, timeout, errProcessTimeout)
	defer stopTimer()
	runCtx, cancel := context.WithCancelCause(runCtx)
	defer cancel(nil)

	cmd := newCmd(runCtx)
	cmd.Stdin = stdin
	cmd.Stderr = p.stderr()
	cmd.Env = p.Env
	out := &limitedBuffer{max: maxProcessOutput, full: func() { cancel(errTooMuchOutput) }}
	cmd.Stdout = out
	cmd.WaitDelay = waitDelay

	g := newGroup(cmd)
	defer g.release()
	cmd.Cancel = g.kill

	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting %s for profile %q: %w", what, r.Profile, err)
	}
	g.started(cmd.Process)
	err := cmd.Wait()

	switch {
	case out.overflowed():
		return "", fmt.Errorf("%s for profile %q printed more than %d bytes on stdout; it should print only the 6-digit code", what, r.Profile, maxProcessOutput)
	case err == nil || errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		// Exited with status 0. Background children may still be running;
		// they are the command's business.
	case runCtx.Err() != nil:
		cause := context.Cause(runCtx)
		if errors.Is(cause, errProcessTimeout) {
			return "", fmt.Errorf("%s for profile %q did not finish within %v and was stopped: %w", what, r.Profile, timeout, context.DeadlineExceeded)
		}
		return "", fmt.Errorf("%s for profile %q: %w", what, r.Profile, cause)
	default:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			// The error names the status only: stdout may hold a secret.
			return "", fmt.Errorf("%s for profile %q failed: %w", what, r.Profile, exitErr)
		}
		return "", fmt.Errorf("running %s for profile %q: %w", what, r.Profile, err)
	}
	return out.String(), nil
}

// limitedBuffer keeps up to max bytes. Past that it stops accepting writes
// and calls full once, so the process is killed instead of buffered forever.
type limitedBuffer struct {
	max  int
	full func()

	mu   sync.Mutex
	buf  []byte
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return 0, errTooMuchOutput
	}
	if len(b.buf)+len(p) > b.max {
		b.over = true
		b.buf = nil
		b.full()
		return 0, errTooMuchOutput
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *limitedBuffer) overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
