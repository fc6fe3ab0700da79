//go:build linux

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// A key removed with a relative XDG_CONFIG_HOME (invalid, so ignored as the
// XDG spec says) is served by no agent afterwards.
func TestAgentRelativeConfigHomeInvalidates(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	if r := w.client(nil, "dev"); r.code != 0 {
		t.Fatalf("warming the agent: exit %d: %s", r.code, r.stderr)
	}
	if r := w.cmd([]string{"XDG_CONFIG_HOME=rel"}, brokerBin, "remove", "--yes", "dev"); r.code != 0 {
		t.Fatalf("remove with a relative XDG_CONFIG_HOME: exit %d: %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{clientBin, "dev"}, {brokerBin, "export", "dev"}} {
		if r := w.cmd(nil, args[0], args[1:]...); r.code == 0 || r.stdout != "" {
			t.Errorf("%v after remove: exit %d, %d bytes on stdout: the removed key's session is still served", args, r.code, len(r.stdout))
		}
	}
}

// A key-changing command with a stopped agent says once that the agent does
// not answer, and what it holds is not served once the agent runs again.
func TestAgentStoppedChangeSaysSo(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	if r := w.client(nil, "dev"); r.code != 0 {
		t.Fatalf("warming the agent: exit %d: %s", r.code, r.stderr)
	}
	pid := w.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	w.limit = 90 * time.Second // the hang guard
	r := w.cmd(nil, brokerBin, "remove", "--yes", "dev")
	if r.code != 0 {
		t.Fatalf("remove with a stopped agent: exit %d: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "does not answer"); n != 1 {
		t.Errorf("remove with a stopped agent said %d times that it does not answer, want once: %q", n, r.stderr)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	if r := w.client(nil, "dev"); r.code == 0 || r.stdout != "" {
		t.Errorf("after remove, the resumed agent's client: exit %d, %d bytes on stdout", r.code, len(r.stdout))
	}
}
