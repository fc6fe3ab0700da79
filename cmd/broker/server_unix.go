//go:build unix

package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// signalRelay: the terminal sends SIGINT and SIGQUIT to the whole foreground
// process group, so the child already has them and broker only keeps them
// from ending itself (catching, not ignoring: an ignored signal would stay
// ignored in the child). SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are usually
// sent to broker's process alone, so they are passed on.
type signalRelay struct{ ch chan os.Signal }

func newSignalRelay() *signalRelay {
	r := &signalRelay{ch: make(chan os.Signal, 8)}
	signal.Notify(r.ch, syscall.SIGINT, syscall.SIGQUIT,
		syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	return r
}

func (r *signalRelay) start(p *os.Process) {
	go func() {
		for sig := range r.ch {
			if sig == syscall.SIGINT || sig == syscall.SIGQUIT {
				continue
			}
			_ = p.Signal(sig)
		}
	}()
}

func (r *signalRelay) stop() {
	signal.Stop(r.ch)
	close(r.ch)
}

// childStatus is the child's exit code, or 128+N when signal N killed it, as
// a shell reports it.
func childStatus(exit *exec.ExitError) int {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exit.ExitCode()
}
