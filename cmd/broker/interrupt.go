package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// interruptedError: the person pressed Ctrl-C (at a prompt, or while broker
// waited on something), or broker got SIGTERM. broker then exits 128+N, as a
// shell reports a command killed by signal N, saying nothing more unless the
// command has something to add (a hinted error: how to finish a rotation).
type interruptedError struct{ sig syscall.Signal }

func (e interruptedError) Error() string { return "interrupted" }

// caught is the signal an interruptible context received, 0 for none.
var caught atomic.Int32

// interruptible is a context that ends with an interruptedError as its
// cause when SIGINT or SIGTERM arrives. Until stop, later signals of those
// kinds are caught too, so a second Ctrl-C does not kill broker halfway
// through its cleanup.
func interruptible(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			s, _ := sig.(syscall.Signal)
			caught.CompareAndSwap(0, int32(s))
			cancel(interruptedError{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// interruption is the signal that ended err's command, if one did: err is
// or wraps an interruptedError, or a context canceled after a signal came.
func interruption(err error) (syscall.Signal, bool) {
	var ie interruptedError
	if errors.As(err, &ie) {
		return ie.sig, true
	}
	if s := caught.Load(); s != 0 && errors.Is(err, context.Canceled) {
		return syscall.Signal(s), true
	}
	return 0, false
}

// newlineOnTerminal ends the line a Ctrl-C left the cursor on (after a
// prompt, or the ^C the terminal echoed), so the shell's prompt starts on a
// line of its own.
func newlineOnTerminal() {
	f, err := os.OpenFile(defaultTTY, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString("\n")
}
