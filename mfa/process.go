package mfa

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// maxProcessOutput bounds what is read from mfa_process's stdout. A code is
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
// what it prints on stdout. The command runs in its own process group (a
// job object on Windows) so that a timeout stops everything it started.
func (p *Prompter) runProcess(ctx context.Context, r Request) (string, error) {
	timeout := p.processTimeout()
	runCtx, stopTimer := context.WithTimeoutCause(ctx, timeout, errProcessTimeout)
	defer stopTimer()
	runCtx, cancel := context.WithCancelCause(runCtx)
	defer cancel(nil)

	cmd := shellCommand(runCtx, r.Process)
	cmd.Stdin = p.stdin()
	cmd.Stderr = p.stderr()
	cmd.Env = p.Env
	out := &limitedBuffer{max: maxProcessOutput, full: func() { cancel(errTooMuchOutput) }}
	cmd.Stdout = out
	cmd.WaitDelay = waitDelay

	g := newGroup(cmd)
	defer g.release()
	cmd.Cancel = g.kill

	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting mfa_process for profile %q: %w", r.Profile, err)
	}
	g.started(cmd.Process)
	err := cmd.Wait()

	switch {
	case out.overflowed():
		return "", fmt.Errorf("mfa_process for profile %q printed more than %d bytes on stdout; it should print only the 6-digit code", r.Profile, maxProcessOutput)
	case err == nil || errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		// Exited with status 0. Background children may still be running;
		// they are the command's business.
	case runCtx.Err() != nil:
		cause := context.Cause(runCtx)
		if errors.Is(cause, errProcessTimeout) {
			return "", fmt.Errorf("mfa_process for profile %q did not finish within %v and was stopped: %w", r.Profile, timeout, context.DeadlineExceeded)
		}
		return "", fmt.Errorf("mfa_process for profile %q: %w", r.Profile, cause)
	default:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			// The error names the status only: stdout may hold a secret.
			return "", fmt.Errorf("mfa_process for profile %q failed: %w", r.Profile, exitErr)
		}
		return "", fmt.Errorf("running mfa_process for profile %q: %w", r.Profile, err)
	}

	code, err := Parse(out.String())
	if err != nil {
		return "", fmt.Errorf("output of mfa_process for profile %q: %w", r.Profile, err)
	}
	return code, nil
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
