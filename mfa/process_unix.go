//go:build unix

package mfa

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", command)
}

// ttyMu serialises handing the terminal to an mfa_process and taking it
// back, so that two calls cannot leave the terminal with the wrong group.
var ttyMu sync.Mutex

// group is mfa_process's process group.
//
// Running the command in its own group lets a timeout kill everything it
// started. But a process outside the terminal's foreground group is stopped
// (SIGTTIN) when it reads from the terminal, and an mfa_process may well ask
// for a password there. So when broker owns the terminal, the new group is
// made the foreground group for the run and broker takes the terminal back
// afterwards, as a shell does for a job.
type group struct {
	cmd  *exec.Cmd
	tty  *os.File // controlling terminal, when it was handed to the command
	pgrp int      // broker's own process group, to hand the terminal back to
}

func newGroup(cmd *exec.Cmd) *group {
	g := &group{cmd: cmd}
	attr := &syscall.SysProcAttr{Setpgid: true}
	cmd.SysProcAttr = attr

	ttyMu.Lock()
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		// No controlling terminal: there is nothing to hand over.
		ttyMu.Unlock()
		return g
	}
	fd := int(tty.Fd())
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		// Broker runs in the background: so would the command.
		tty.Close()
		ttyMu.Unlock()
		return g
	}
	attr.Foreground = true
	attr.Ctty = fd
	g.tty, g.pgrp = tty, fg
	return g
}

// started is a no-op: the group exists from the fork on.
func (g *group) started(*os.Process) {}

// kill kills the whole process group, including whatever the shell started.
func (g *group) kill() error {
	err := unix.Kill(-g.cmd.Process.Pid, unix.SIGKILL)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// release takes the terminal back if it was handed over.
func (g *group) release() {
	if g.tty == nil {
		return
	}
	defer ttyMu.Unlock()
	defer g.tty.Close()
	fd := int(g.tty.Fd())
	if fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil && fg == g.pgrp {
		return
	}
	// Broker is now in a background group: changing the foreground group
	// raises SIGTTOU, which would stop it, unless the signal is ignored.
	if !signal.Ignored(unix.SIGTTOU) {
		signal.Ignore(unix.SIGTTOU)
		defer signal.Reset(unix.SIGTTOU)
	}
	_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, g.pgrp)
}
