//go:build windows

package mfa

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/windows"
)

// shellCommand runs command with cmd.exe. The command line is given whole:
// /s makes cmd.exe strip only the outer quotes and keep the rest verbatim,
// which Go's argument escaping would otherwise mangle.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	comspec := os.Getenv("ComSpec")
	if comspec == "" {
		comspec = `C:\Windows\System32\cmd.exe`
	}
	cmd := exec.CommandContext(ctx, comspec)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CmdLine: `"` + comspec + `" /d /s /c "` + command + `"`,
	}
	return cmd
}

// group is a job object holding mfa_process and everything it starts, so
// that a timeout can stop them all. It plays the part of a unix process
// group; a console process group (CREATE_NEW_PROCESS_GROUP) would not help
// with killing and would only keep Ctrl+C from reaching the command.
type group struct {
	cmd *exec.Cmd

	mu  sync.Mutex     // kill runs on exec's context goroutine
	job windows.Handle // 0 when it could not be created or assigned
}

func newGroup(cmd *exec.Cmd) *group {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		// Still runnable; a timeout then kills cmd.exe only.
		return &group{cmd: cmd}
	}
	return &group{cmd: cmd, job: job}
}

// started puts the process into the job. Children it starts from now on
// are in the job too.
func (g *group) started(p *os.Process) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.job == 0 {
		return
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		g.closeJob()
		return
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(g.job, h); err != nil {
		g.closeJob()
	}
}

func (g *group) kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.job != 0 {
		if err := windows.TerminateJobObject(g.job, 1); err == nil {
			return nil
		}
	}
	return g.cmd.Process.Kill()
}

func (g *group) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeJob()
}

// closeJob is called with g.mu held.
func (g *group) closeJob() {
	if g.job != 0 {
		windows.CloseHandle(g.job)
		g.job = 0
	}
}
