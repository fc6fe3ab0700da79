//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The agent's acceptance tests: the warm path touches no keychain, many
// cold callers cost one code and one STS call, a killed agent strands
// nobody, and no answer is ever staler than the direct path's.

// busMonitor counts the Secret Service method calls on the session bus
// (the private one of scripts/test.sh, which allows eavesdropping).
type busMonitor struct {
	mu    sync.Mutex
	calls []string
	ready chan struct{}
	cmd   *exec.Cmd
}

func monitorSecretService(t *testing.T) *busMonitor {
	t.Helper()
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if bus == "" {
		t.Skip("no session bus: run through scripts/test.sh")
	}
	if _, err := exec.LookPath("dbus-monitor"); err != nil {
		t.Fatal("dbus-monitor not found (Debian package dbus)")
	}
	m := &busMonitor{ready: make(chan struct{})}
	m.cmd = exec.Command("dbus-monitor", "--address", bus, "type='method_call'")
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.cmd.Process.Kill(); m.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		readyOnce := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			// Turning into a monitor, it loses its name: from then on it sees everything.
			if strings.Contains(line, "member=NameLost") {
				readyOnce.Do(func() { close(m.ready) })
			}
			if strings.HasPrefix(line, "method call") &&
				(strings.Contains(line, "path=/org/freedesktop/secrets") || strings.Contains(line, "interface=org.freedesktop.Secret.")) {
				m.mu.Lock()
				m.calls = append(m.calls, line)
				m.mu.Unlock()
			}
		}
	}()
	select {
	case <-m.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-monitor did not start monitoring within 10s")
	}
	return m
}

// count waits until the bus is quiet for a moment, then counts.
func (m *busMonitor) count() int {
	last := -1
	for {
		time.Sleep(100 * time.Millisecond)
		m.mu.Lock()
		n := len(m.calls)
		m.mu.Unlock()
		if n == last {
			return n
		}
		last = n
	}
}

// client runs broker-credential-process in the world, as credential_process does.
func (w *world) client(extraEnv []string, args ...string) result {
	return w.cmd(extraEnv, clientBin, args...)
}

// Not parallel: the bus monitor counts every Secret Service call on the bus.
func TestAgentWarmPathTouchesNoKeychain(t *testing.T) {
	w, _ := setupDev(t)
	if w.backend != "secret-service" {
		t.Skip("needs the Secret Service")
	}
	b, _ := os.ReadFile(w.config)
	if !strings.Contains(string(b), "credential_process = "+clientBin+" dev\n") {
		t.Fatalf("setup did not write the client into credential_process:\n%s", b)
	}
	first := decodeExport(t, w.mustBroker("export", "dev"))
	if w.agentPID() == 0 {
		t.Fatal("the first call started no agent")
	}
	mon := monitorSecretService(t)
	for i := 0; i < 20; i++ {
		if got := decodeExport(t, w.mustBroker("export", "dev")); got != first {
			t.Fatalf("warm export %d: another session", i)
		}
	}
	for i := 0; i < 3; i++ {
		r := w.cmd(nil, brokerBin, "exec", "dev", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID $AWS_REGION")
		if r.code != 0 || r.stdout != first.AccessKeyID+" eu-west-1\n" {
			t.Fatalf("warm exec %d: exit %d, %q: %s", i, r.code, r.stdout, r.stderr)
		}
	}
	for i := 0; i < 2; i++ {
		r := w.cmd(nil, "aws", "--profile", "dev", "sts", "get-caller-identity", "--output", "json")
		if r.code != 0 || !strings.Contains(r.stdout, `"Arn"`) {
			t.Fatalf("aws --profile dev: exit %d: %s", r.code, r.stderr)
		}
	}
	if n := mon.count(); n != 0 {
		t.Errorf("25 warm calls made %d Secret Service calls, want 0; the first: %s", n, mon.calls[0])
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA asked %d times in all, want 1", n)
	}
	// The monitor does see what reads the keychain.
	w.mustBroker("list")
	if n := mon.count(); n == 0 {
		t.Error("dbus-monitor saw no Secret Service call from `broker list`: the count above proves nothing")
	}
}

func TestAgentParallelColdCallers(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	const n = 30
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.client(nil, "dev")
		}()
	}
	wg.Wait()
	var first exported
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("caller %d: exit %d: %s", i, r.code, r.stderr)
		}
		if e := decodeExport(t, r.stdout); i == 0 {
			first = e
		} else if e != first {
			t.Errorf("caller %d got another session", i)
		}
	}
	if asks := w.mfaAsks(); asks != 1 {
		t.Errorf("%d cold callers asked %d MFA codes, want 1", n, asks)
	}
	if calls := len(w.calls("GetSessionToken")); calls != 1 {
		t.Errorf("%d cold callers made %d GetSessionToken calls, want 1", n, calls)
	}
	if w.agentPID() == 0 {
		t.Error("no agent runs after the calls")
	}
}

// The agent killed with SIGKILL while a client mints (its mfa_process
// still running) and others wait: every caller ends, with credentials or
// one clear error, and none hangs.
func TestAgentKilledMidFlight(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, u := setupDev(t)
	gate := filepath.Join(w.root, "gate")
	// The code comes once the gate file exists: the flight lasts until then.
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = sh -c 'echo asked >> %s; while [ ! -e %s ]; do sleep 0.05; done; echo 123456'
`, u.serial, w.mfaLog, gate))
	w.mustBroker("agent", "start")
	pid := w.agentPID()
	const n = 8
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.client(nil, "dev")
		}()
	}
	waitUntil(t, func() bool { return w.mfaAsks() == 1 })
	waitUntil(t, func() bool { return flights(t, w) == 1 })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("callers still hang 90s after the agent was killed")
	}
	for i, r := range results {
		if r.code == 0 {
			decodeExport(t, r.stdout)
			continue
		}
		if r.stdout != "" || !strings.HasPrefix(r.stderr, "broker: ") || strings.Count(r.stderr, "broker: ") != 1 {
			t.Errorf("caller %d: exit %d without one clear error: stdout %q stderr %q", i, r.code, r.stdout, r.stderr)
		}
	}
	t.Logf("MFA asked %d times, GetSessionToken %d times", w.mfaAsks(), len(w.calls("GetSessionToken")))
}

// flights is how many answers the world's agent is minting now.
func flights(t *testing.T, w *world) int {
	out, _, _ := w.broker("agent", "status")
	var held, minting int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "holding ") {
			fmt.Sscanf(line, "holding %d answer(s), %d being minted", &held, &minting)
		}
	}
	return minting
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met within 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
