//go:build unix

package mfa

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// script writes body as an executable shell script in a temporary folder
// and returns the mfa_process command that runs it.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mfa process.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return "'" + path + "'"
}

func TestProcess(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string // "" means an error
		wantErr error  // checked with errors.Is when not nil
		errHas  string // the error text contains this
	}{
		{name: "code", body: "printf 123456", want: "123456"},
		{name: "code and newline", body: "echo 123456", want: "123456"},
		{name: "code after stderr chatter", body: "echo 'Touch your YubiKey...' >&2\necho 123456", want: "123456"},
		{name: "exit status", body: "echo 123456\nexit 3", errHas: "exit status 3"},
		{name: "killed by a signal", body: "echo 123456\nkill -TERM $PPID", errHas: "signal: terminated"},
		{name: "garbage", body: "echo 'no such account: 123456x'", wantErr: ErrInvalidCode},
		{name: "two codes", body: "echo 123456\necho 654321", wantErr: ErrInvalidCode},
		{name: "nothing", body: "true", wantErr: ErrInvalidCode},
		{name: "just over 1 KiB", body: "head -c 1025 /dev/zero | tr '\\0' 1", errHas: "more than 1024 bytes"},
		{name: "endless output", body: "yes 123456", errHas: "more than 1024 bytes"},
		{name: "exit 127", body: "no-such-command-for-broker-tests", errHas: "exit status 127"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			p := &Prompter{Stderr: &stderr, Stdin: strings.NewReader("")}
			code, interactive, err := p.Code(context.Background(), Request{Profile: "dev", Process: script(t, tt.body)})
			if interactive {
				t.Error("interactive = true for mfa_process")
			}
			if tt.want != "" {
				if err != nil || code != tt.want {
					t.Fatalf("Code = %q, %v; want %q", code, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Code = %q; want an error", code)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q does not wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q does not say %q", err, tt.errHas)
			}
			if strings.Contains(err.Error(), "123456") || strings.Contains(err.Error(), "654321") {
				t.Errorf("error %q shows the output", err)
			}
			if !strings.Contains(err.Error(), `"dev"`) {
				t.Errorf("error %q does not name the profile", err)
			}
		})
	}
}

func TestProcessStreams(t *testing.T) {
	var stderr bytes.Buffer
	p := &Prompter{
		Stderr: &stderr,
		Stdin:  strings.NewReader("654321\n"),
		Env:    []string{"BROKER_TEST_GREETING=hello from the environment"},
	}
	cmd := script(t, `echo "$BROKER_TEST_GREETING" >&2
read -r code
echo "$code"`)
	code, _, err := p.Code(context.Background(), Request{Process: cmd})
	if err != nil || code != "654321" {
		t.Fatalf("Code = %q, %v; want the code read from stdin", code, err)
	}
	if got := stderr.String(); got != "hello from the environment\n" {
		t.Errorf("Stderr got %q; want the process's stderr", got)
	}
}

// TestProcessTimeout checks that a slow mfa_process is stopped with all it
// started: here a sleep run by the script, which would otherwise outlive it.
func TestProcessTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild")
	cmd := script(t, `sleep 60 &
echo $! > '`+pidFile+`'
wait`)
	p := &Prompter{ProcessTimeout: 300 * time.Millisecond, Stderr: io.Discard}
	start := time.Now()
	_, _, err := p.Code(context.Background(), Request{Profile: "dev", Process: cmd})
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Code returned after %v, not when the timeout passed", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Fatalf("error = %v; want a timeout naming the limit", err)
	}
	waitGone(t, readPID(t, pidFile))
}

func TestProcessContextCanceled(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild")
	cmd := script(t, `sleep 60 &
echo $! > '`+pidFile+`'
wait`)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			// Not merely created: the shell creates it before writing.
			if fi, err := os.Stat(pidFile); err == nil && fi.Size() > 0 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	p := &Prompter{Stderr: io.Discard}
	_, _, err := p.Code(ctx, Request{Process: cmd})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v; want context.Canceled", err)
	}
	waitGone(t, readPID(t, pidFile))
}

// TestProcessBackgroundChild: a command that exits 0 but leaves a child
// holding its stdout still gives its code, after a short wait.
func TestProcessBackgroundChild(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	cmd := script(t, `sleep 30 &
echo $! > '`+pidFile+`'
echo 123456`)
	t.Cleanup(func() {
		if pid := readPID(t, pidFile); pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	})
	p := &Prompter{Stderr: io.Discard}
	code, _, err := p.Code(context.Background(), Request{Process: cmd})
	if err != nil || code != "123456" {
		t.Fatalf("Code = %q, %v; want 123456", code, err)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until process pid has died: it no longer exists, or is a
// zombie that nobody has reaped yet.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	unix.Kill(pid, unix.SIGKILL)
	t.Fatalf("process %d, started by mfa_process, is still running", pid)
}

func TestSourceOrder(t *testing.T) {
	noTTY := filepath.Join(t.TempDir(), "no-tty")
	failing := script(t, "echo 654321\nexit 1")

	t.Run("token wins over process", func(t *testing.T) {
		p := &Prompter{Token: " 123456\n", TTYPath: noTTY, Stderr: io.Discard}
		code, interactive, err := p.Code(context.Background(), Request{Process: failing})
		if err != nil || code != "123456" || interactive {
			t.Fatalf("Code = %q, %v, %v; want 123456 from the token", code, interactive, err)
		}
	})
	t.Run("bad token is an error", func(t *testing.T) {
		p := &Prompter{Token: "12345x", TTYPath: noTTY}
		_, _, err := p.Code(context.Background(), Request{Process: failing})
		if !errors.Is(err, ErrInvalidCode) || strings.Contains(err.Error(), "12345x") {
			t.Fatalf("error = %v; want ErrInvalidCode without the token", err)
		}
	})
	t.Run("process wins over terminal", func(t *testing.T) {
		// A regular file stands in for the terminal: a prompt would land in it.
		tty := filepath.Join(t.TempDir(), "tty")
		if err := os.WriteFile(tty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		p := &Prompter{TTYPath: tty, Stderr: io.Discard}
		code, interactive, err := p.Code(context.Background(), Request{Process: script(t, "echo 123456")})
		if err != nil || code != "123456" || interactive {
			t.Fatalf("Code = %q, %v, %v; want 123456 from the process", code, interactive, err)
		}
		if b, _ := os.ReadFile(tty); len(b) != 0 {
			t.Errorf("terminal got %q; want nothing", b)
		}
	})
	t.Run("no source", func(t *testing.T) {
		// Nor a dialog program to fall back on.
		t.Setenv("PATH", t.TempDir())
		p := &Prompter{TTYPath: noTTY}
		_, _, err := p.Code(context.Background(), Request{Profile: "dev"})
		if !errors.Is(err, ErrNoSource) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("error = %v; want ErrNoSource", err)
		}
		for _, option := range []string{"--mfa-token", "mfa_process", "terminal"} {
			if !strings.Contains(err.Error(), option) {
				t.Errorf("error %q does not mention %s", err, option)
			}
		}
	})
}
