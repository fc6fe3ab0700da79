//go:build windows

package main

import (
	"os"
	"os/exec"
	"os/signal"
)

// signalRelay: Ctrl-C reaches the child through the console; broker only
// keeps it from ending itself.
type signalRelay struct{ ch chan os.Signal }

func newSignalRelay() *signalRelay {
	r := &signalRelay{ch: make(chan os.Signal, 1)}
	signal.Notify(r.ch, os.Interrupt)
	return r
}

func (r *signalRelay) start(*os.Process) {
	go func() {
		for range r.ch {
		}
	}()
}

func (r *signalRelay) stop() {
	signal.Stop(r.ch)
	close(r.ch)
}

func childStatus(exit *exec.ExitError) int { return exit.ExitCode() }
