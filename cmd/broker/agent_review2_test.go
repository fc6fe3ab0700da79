//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
	"github.com/broker-dev/broker/internal/testbus"
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
	pid := stopAgent(t, w)
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

// With a backend off the bus (named or recorded), broker does not probe the
// session bus: a hung one costs it nothing. The silent socket counts the
// probes; a secret-service command shows that it does see them.
func TestHungBusSkippedOffBus(t *testing.T) {
	w := newWorld(t)
	w.limit = time.Minute // the hang guard
	sock := filepath.Join(w.root, "silent-bus")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// probes counts the connections made so far: connect(2) queues them
	// before the command exits, so they are all there to be accepted.
	probes := func() int {
		n := 0
		for {
			l.SetDeadline(time.Now().Add(100 * time.Millisecond))
			c, err := l.Accept()
			if err != nil {
				return n
			}
			c.Close()
			n++
		}
	}
	base := append(testbus.Without(w.env, "BROKER_BACKEND", "DBUS_SESSION_BUS_ADDRESS"), "BROKER_AGENT=off", "DBUS_SESSION_BUS_ADDRESS=unix:path="+sock)
	record := filepath.Join(w.home, ".config", "broker", "backend")
	if err := os.MkdirAll(filepath.Dir(record), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, []byte("keyctl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = base
	for _, env := range [][]string{{"BROKER_BACKEND=keyctl"}, {"BROKER_BACKEND=pass"}, nil} {
		if r := w.cmd(env, brokerBin, "--version"); r.code != 0 {
			t.Errorf("broker --version with %v: exit %d: %s", env, r.code, r.stderr)
		}
		if n := probes(); n != 0 {
			t.Errorf("broker --version with %v (record: keyctl) probed the bus %d times", env, n)
		}
	}
	w.cmd([]string{"BROKER_BACKEND=secret-service"}, brokerBin, "--version")
	if n := probes(); n != 1 {
		t.Errorf("broker --version with BROKER_BACKEND=secret-service probed the bus %d times, want once", n)
	}
}

// With the agent stopped, `broker agent status` names its pid and how to
// resume or end it, and `broker agent stop` ends it.
func TestAgentStoppedStatusAndStop(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	if r := w.client(nil, "dev"); r.code != 0 {
		t.Fatalf("warming the agent: exit %d: %s", r.code, r.stderr)
	}
	pid := stopAgent(t, w)
	r := w.cmd(nil, brokerBin, "agent", "status")
	if want := fmt.Sprintf("kill -CONT %d", pid); r.code == 0 || r.stdout != "" ||
		!strings.Contains(r.stderr, fmt.Sprintf("pid %d", pid)) || !strings.Contains(r.stderr, want) {
		t.Errorf("agent status with a stopped agent: exit %d, stdout %q, stderr %q: want its pid and %q", r.code, r.stdout, r.stderr, want)
	}
	if r := w.cmd(nil, brokerBin, "agent", "stop"); r.code != 0 {
		t.Errorf("agent stop with a stopped agent: exit %d: %s", r.code, r.stderr)
	}
	if r := w.cmd(nil, brokerBin, "agent", "status"); r.code != 3 {
		t.Errorf("agent status after stop: exit %d, %q %q; want 3 (not running)", r.code, r.stdout, r.stderr)
	}
}

// stopAgent stops w's agent with SIGSTOP (resumed when the test ends),
// waits until it is stopped, and returns its pid. Calls then get the
// 90 s hang guard.
func stopAgent(t *testing.T, w *world) int {
	t.Helper()
	pid := w.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	waitUntil(t, func() bool { return stopped(pid) }) // SIGSTOP is not instant
	w.limit = 90 * time.Second                        // the hang guard: w.cmd fails a call still running then
	return pid
}

// stopped reports whether process pid is stopped (state T in /proc).
func stopped(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	_, after, ok := strings.Cut(string(b), ") ")
	return ok && strings.HasPrefix(after, "T")
}

// A change marker left behind with a live pid (a killed command's pid
// reused) keeps clients off the agent: `broker agent status` says so.
func TestAgentStatusSaysChangeMarker(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	if r := w.client(nil, "dev"); r.code != 0 {
		t.Fatalf("warming the agent: exit %d: %s", r.code, r.stderr)
	}
	gen := filepath.Join(w.home, ".config", "broker", "agent-generation")
	// This test's process stands for the one that reused the pid.
	if err := os.WriteFile(gen, []byte(fmt.Sprintf("changing %d 0123abcd", os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.cmd(nil, brokerBin, "agent", "status")
	if want := fmt.Sprintf("not used by clients now: pid %d is changing keys", os.Getpid()); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("agent status with a change marker: exit %d, %q: want %q", r.code, r.stdout, want)
	}
}

// An agent of before protocol 2 sends nothing while another client mints;
// it answers status. Its silence on get is not taken for a stopped agent:
// the call takes the direct path without a warning. The fake agent here
// never answers get and answers status as an old one does.
func TestAgentOldProtocolNoFalseWarning(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	w.stopAgent()
	status := fmt.Sprintf(`{"status":"ok","agent":{"pid":%d,"started":%q,"idle":"15m0s"}}`+"\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	fakeAgent(t, w, func(line string) string {
		if strings.Contains(line, `"status"`) {
			return status
		}
		return "" // get: silent, as while another client mints
	})
	w.limit = 90 * time.Second // the hang guard
	for _, args := range [][]string{{clientBin, "dev"}, {brokerBin, "export", "dev"}} {
		r := w.cmd(nil, args[0], args[1:]...)
		if r.code != 0 {
			t.Fatalf("%v with an old agent mid-flight: exit %d: %s", args, r.code, r.stderr)
		}
		decodeExport(t, r.stdout)
		if strings.Contains(r.stderr, "does not answer") {
			t.Errorf("%v with an old agent mid-flight warned that it does not answer: %q", args, r.stderr)
		}
	}
}

// fakeAgent serves w's agent socket in the place of an agent: each request
// line gets what answer returns for it, nothing when that is "".
func fakeAgent(t *testing.T, w *world, answer func(line string) string) {
	t.Helper()
	dir := filepath.Join(w.run, "broker", "agent")
	if err := wire.EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, wire.SocketName)
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if a := answer(line); a != "" {
						c.Write([]byte(a))
					}
				}
			}()
		}
	}()
}
