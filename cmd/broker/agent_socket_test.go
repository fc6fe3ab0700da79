//go:build linux

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The agent's folder and socket: refused by clients when not private,
// replaced safely (never followed), and the process itself detached,
// hardened and holding no secret in argv, environment or any file.

func (w *world) agentDir() string { return filepath.Join(w.run, "broker", "agent") }

// waitGone waits until process pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitUntil(t, func() bool {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		// A zombie has exited too.
		return err != nil || strings.Contains(string(b), ") Z ")
	})
}

func TestAgentUnsafeFolderReplaced(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	if os.Getuid() != 0 {
		t.Skip("needs root to make files of another user")
	}
	w, _ := setupDev(t)
	victim := filepath.Join(w.root, "victim")
	if err := os.Mkdir(victim, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(victim, "theirs"), []byte("x"), 0o600)
	os.Chown(victim, 65534, 65534)
	cases := []struct {
		name   string
		tamper func(dir string) error
	}{
		{"folder open to others", func(dir string) error { return os.Chmod(dir, 0o755) }},
		{"folder of another user", func(dir string) error { return os.Chown(dir, 65534, 65534) }},
		{"folder replaced by a link", func(dir string) error {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			return os.Symlink(victim, dir)
		}},
		{"socket open to others", func(dir string) error { return os.Chmod(filepath.Join(dir, "sock"), 0o666) }},
		{"socket of another user", func(dir string) error { return os.Lchown(filepath.Join(dir, "sock"), 65534, 65534) }},
	}
	first := decodeExport(t, w.client(nil, "dev").stdout)
	for _, tc := range cases {
		pid := w.agentPID()
		if pid == 0 {
			t.Fatalf("%s: no agent before", tc.name)
		}
		if err := tc.tamper(w.agentDir()); err != nil {
			t.Fatal(err)
		}
		// The client refuses it and hands over; broker export answers,
		// and puts a private folder and a new agent in its place.
		r := w.client(nil, "dev")
		if r.code != 0 || decodeExport(t, r.stdout) != first {
			t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
		}
		waitGone(t, pid)
		fi, err := os.Lstat(w.agentDir())
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Fatalf("%s: the agent's folder is now %v (%v)", tc.name, fi.Mode(), err)
		}
		waitUntil(t, func() bool { return w.agentPID() != 0 })
		sock, err := os.Lstat(filepath.Join(w.agentDir(), "sock"))
		if err != nil || sock.Mode().Perm() != 0o600 || sock.Mode().Type() != os.ModeSocket {
			t.Fatalf("%s: socket %v (%v)", tc.name, sock.Mode(), err)
		}
		if b, err := os.ReadFile(filepath.Join(victim, "theirs")); err != nil || string(b) != "x" {
			t.Fatalf("%s: the link's target was touched: %q %v", tc.name, b, err)
		}
	}
	// A stale socket left by a killed agent, open to others: replaced.
	pid := w.agentPID()
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
	os.Chmod(filepath.Join(w.agentDir(), "sock"), 0o666)
	if r := w.client(nil, "dev"); r.code != 0 {
		t.Fatalf("after a stale socket: exit %d: %s", r.code, r.stderr)
	}
	waitUntil(t, func() bool { return w.agentPID() != 0 })
	if fi, err := os.Lstat(filepath.Join(w.agentDir(), "sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the stale socket was not replaced: %v %v", fi.Mode(), err)
	}
}

// The agent runs detached (its own session and process group, stdio on
// /dev/null), non-dumpable without core dumps, with no secret in its argv,
// its environment or any file.
func TestAgentProcess(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, u := setupDev(t)
	e := decodeExport(t, w.client(nil, "dev").stdout)
	pid := w.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	proc := func(name string) string {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	stat := proc("stat")
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:])
	// state ppid pgrp session ...
	if fields[2] != strconv.Itoa(pid) || fields[3] != strconv.Itoa(pid) {
		t.Errorf("agent pid %d: process group %s, session %s: not detached", pid, fields[2], fields[3])
	}
	if fields[1] == strconv.Itoa(os.Getpid()) {
		t.Error("the agent is the test's child")
	}
	for fd := 0; fd <= 2; fd++ {
		if target, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", strconv.Itoa(fd))); target != "/dev/null" {
			t.Errorf("agent fd %d is %q, want /dev/null", fd, target)
		}
	}
	if argv := strings.Split(strings.TrimRight(proc("cmdline"), "\x00"), "\x00"); !slices.Equal(argv[1:], []string{"agent", "--foreground"}) {
		t.Errorf("agent argv %q", argv)
	}
	if !strings.Contains(proc("limits"), "Max core file size        0                    0") {
		t.Errorf("core dumps not off:\n%s", proc("limits"))
	}
	environ := proc("environ")
	for _, kv := range strings.Split(strings.TrimRight(environ, "\x00"), "\x00") {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"XDG_RUNTIME_DIR", "TMPDIR", "HOME", "XDG_CACHE_HOME", "DBUS_SESSION_BUS_ADDRESS", "BROKER_AGENT_INTERMEDIATE"}, name) {
			t.Errorf("agent environment has %s", name)
		}
	}
	secrets := []string{u.secret, e.SecretAccessKey, e.SessionToken}
	for _, s := range secrets {
		if strings.Contains(environ, s) || strings.Contains(proc("cmdline"), s) {
			t.Error("a secret in the agent's argv or environment")
		}
	}
	w.scanForSecrets(u.secret, e.SessionToken)
	w.scanForSecrets(e.SecretAccessKey)
}

// BROKER_AGENT=off: no agent, no socket, every command as before.
func TestAgentOff(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	w.env = append(w.env, "BROKER_AGENT=off")
	decodeExport(t, w.mustBroker("export", "dev"))
	if r := w.client(nil, "dev"); r.code != 0 {
		t.Fatalf("client: exit %d: %s", r.code, r.stderr)
	}
	out, _, code := w.broker("agent", "status")
	if code != 3 || !strings.HasPrefix(out, "not running") {
		t.Fatalf("agent status: exit %d, %q", code, out)
	}
	if _, err := os.Lstat(filepath.Join(w.agentDir(), "sock")); !os.IsNotExist(err) {
		t.Errorf("a socket exists with the agent off: %v", err)
	}
}

// start, status, stop, and the idle exit.
func TestAgentCommands(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w := newWorld(t)
	w.mustBroker("agent", "start")
	pid := w.agentPID()
	if pid == 0 {
		t.Fatal("agent start started nothing")
	}
	w.mustBroker("agent", "start") // already running: fine
	if w.agentPID() != pid {
		t.Fatal("a second start started another agent")
	}
	if _, errOut, code := w.broker("agent", "--foreground"); code == 0 || !strings.Contains(errOut, "already running") {
		t.Errorf("a second foreground agent: exit %d, %q", code, errOut)
	}
	w.mustBroker("agent", "stop")
	waitGone(t, pid)
	if w.agentPID() != 0 {
		t.Fatal("agent still answers after stop")
	}
	// Idle with nothing held: it leaves by itself.
	w.cmd([]string{"BROKER_AGENT_IDLE=300ms"}, brokerBin, "agent", "start")
	pid = w.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	waitGone(t, pid)
	if _, err := os.Lstat(filepath.Join(w.agentDir(), "sock")); !os.IsNotExist(err) {
		t.Errorf("the idle agent left its socket: %v", err)
	}
	if _, errOut, code := w.broker("agent", "--idle", "soon", "start"); code == 0 || !strings.Contains(errOut, "invalid idle time") {
		t.Errorf("a bad --idle: exit %d, %q", code, errOut)
	}
}
