//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
	"golang.org/x/sys/unix"
)

// startWait bounds starting the agent.
const startWait = 5 * time.Second

// intermediateVar marks the `broker agent start` that broker runs to start
// the agent: it starts the agent without taking the start lock (its parent
// holds it) and exits.
const intermediateVar = "BROKER_AGENT_INTERMEDIATE"

// startAgent makes sure an agent runs, and returns its status. Starting
// takes a lock in the agent's folder, so that many callers at once start
// one agent; it runs `broker agent start` as an intermediate process, which
// starts the agent in a session of its own and exits, so the agent is
// nobody's child (not of a command `broker exec` becomes).
func startAgent(idle string) (*wire.AgentStatus, error) {
	if !wire.Supported {
		return nil, agentUnsupported()
	}
	if st, _, err := agentRequest(wire.Request{Op: wire.OpStatus}); err == nil && st.Agent != nil {
		return st.Agent, nil
	}
	dir, err := wire.Dir()
	if err != nil {
		return nil, err
	}
	if err := wire.EnsureDir(dir); err != nil {
		return nil, fmt.Errorf("the agent's folder: %w", err)
	}
	intermediate := os.Getenv(intermediateVar) != ""
	if !intermediate {
		unlock, err := lockStart(dir)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	if st, _, err := agentRequest(wire.Request{Op: wire.OpStatus}); err == nil && st.Agent != nil {
		return st.Agent, nil
	}
	exe, err := brokerPath()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "agent", "start")
	if intermediate {
		cmd = exec.Command(exe, "agent", "--foreground")
	}
	cmd.Env = agentEnv(idle)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the broker agent: %w", err)
	}
	waited := make(chan error, 1)
	if !intermediate {
		go func() { waited <- cmd.Wait() }()
	} else {
		_ = cmd.Process.Release()
	}
	deadline := time.Now().Add(startWait)
	for time.Now().Before(deadline) {
		if st, _, err := agentRequest(wire.Request{Op: wire.OpStatus}); err == nil && st.Agent != nil {
			return st.Agent, nil
		}
		select {
		case err := <-waited:
			if err != nil {
				return nil, fmt.Errorf("starting the broker agent: %w", err)
			}
			waited = nil // it exited 0: the agent should answer now
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil, errors.New("the broker agent did not start within 5s")
}

// lockStart takes the start lock in dir, waiting up to startWait.
func lockStart(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "start.lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the agent's start lock: %w", err)
	}
	deadline := time.Now().Add(startWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("taking the agent's start lock: %w", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// endAgent ends an agent that does not answer: SIGTERM, then SIGCONT so
// that a stopped one runs to handle it.
func endAgent(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	syscall.Kill(pid, syscall.SIGCONT)
	return nil
}
