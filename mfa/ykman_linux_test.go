//go:build linux

package mfa

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestYkman(t *testing.T) {
	tests := []struct {
		name        string
		p           Prompter
		r           Request
		output      string
		wantAccount string
	}{
		{name: "profile account", r: Request{YubiKeyOATH: "aws:alice"}, output: "123456", wantAccount: "aws:alice"},
		{name: "profile account wins over the environment", p: Prompter{YubiKeyOATH: "env"}, r: Request{YubiKeyOATH: "aws:alice"}, output: "123456", wantAccount: "aws:alice"},
		{name: "YKMAN_OATH_CREDENTIAL_NAME", p: Prompter{YubiKeyOATH: "env account"}, output: "123456", wantAccount: "env account"},
		{name: "named without an account: the serial", r: Request{Prompt: "ykman"}, output: "123456", wantAccount: alice.Serial},
		{name: "account and code, as without --single", r: Request{YubiKeyOATH: "-dash"}, output: "-dash    123456", wantAccount: "-dash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakePATH(t)
			f.add("ykman", []string{tt.output}, "")
			tty := fakeTTY(t)
			var stderr bytes.Buffer
			p := tt.p
			p.TTYPath, p.Stderr = tty, &stderr
			r := tt.r
			r.Profile, r.Serial = alice.Profile, alice.Serial
			code, interactive, err := p.Code(context.Background(), r)
			if err != nil || code != "123456" || interactive {
				t.Fatalf("Code = %q, %v, %v; want 123456 from ykman", code, interactive, err)
			}
			runs := f.runs("ykman")
			want := []string{"oath", "accounts", "code", "--single", "--", tt.wantAccount}
			if len(runs) != 1 || !slices.Equal(runs[0], want) {
				t.Errorf("ykman ran with %q; want %q once", runs, want)
			}
			if got := readFile(t, tty); !strings.Contains(got, "from your YubiKey") || !strings.Contains(got, "touch it") {
				t.Errorf("terminal showed %q; want the touch notice", got)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr got %q; want nothing with a terminal there", stderr.String())
			}
		})
	}
}

func TestYkmanWithoutTerminal(t *testing.T) {
	f := fakePATH(t)
	f.add("ykman", []string{"123456"}, "")
	written := captureStdStreams(t)
	var stderr bytes.Buffer
	p := &Prompter{TTYPath: filepath.Join(t.TempDir(), "no-tty"), Stderr: &stderr}
	code, _, err := p.Code(context.Background(), Request{Profile: "dev", YubiKeyOATH: "aws"})
	if err != nil || code != "123456" {
		t.Fatalf("Code = %q, %v", code, err)
	}
	if !strings.Contains(stderr.String(), "touch it") {
		t.Errorf("stderr got %q; want the touch notice when there is no terminal", stderr.String())
	}
	if got := written(); got != "" {
		t.Errorf("os.Stdout and os.Stderr got %q", got)
	}
}

func TestYkmanErrors(t *testing.T) {
	t.Run("not installed", func(t *testing.T) {
		fakePATH(t)
		p := &Prompter{TTYPath: fakeTTY(t)}
		_, _, err := p.Code(context.Background(), Request{Profile: "dev", YubiKeyOATH: "aws"})
		if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "ykman, which is not installed") {
			t.Fatalf("error = %v; want ykman named as missing", err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{""}, "echo 'Error: No YubiKey detected!' >&2; exit 2")
		var stderr bytes.Buffer
		p := &Prompter{TTYPath: fakeTTY(t), Stderr: &stderr}
		_, _, err := p.Code(context.Background(), Request{Profile: "dev", YubiKeyOATH: "aws"})
		if err == nil || !strings.Contains(err.Error(), `ykman for profile "dev" failed: exit status 2`) {
			t.Fatalf("error = %v; want ykman's exit status", err)
		}
		if !strings.Contains(stderr.String(), "No YubiKey detected") {
			t.Errorf("stderr got %q; want ykman's own message", stderr.String())
		}
	})
	t.Run("several accounts", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"a  123456", "b  654321"}, "sed -n 2p \"$d/ykman.codes\"")
		p := &Prompter{TTYPath: fakeTTY(t)}
		_, _, err := p.Code(context.Background(), Request{Profile: "dev", YubiKeyOATH: "aws"})
		if !errors.Is(err, ErrInvalidCode) || strings.Contains(err.Error(), "123456") {
			t.Fatalf("error = %v; want ErrInvalidCode without the codes", err)
		}
	})
}

// TestYkmanReuse: ykman gives the code just used; broker waits for the
// next time step (200ms here) and asks again.
func TestYkmanReuse(t *testing.T) {
	const window = 200 * time.Millisecond
	t.Run("next step brings a new code", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"111111", "222222"}, "")
		tty := fakeTTY(t)
		p := &Prompter{TTYPath: tty, Window: window}
		r := alice
		r.YubiKeyOATH, r.Used = "aws", usedJustNow(alice.Serial, "111111")
		start := time.Now()
		code, _, err := p.Code(context.Background(), r)
		if err != nil || code != "222222" {
			t.Fatalf("Code = %q, %v; want the next code", code, err)
		}
		if n := len(f.runs("ykman")); n != 2 {
			t.Errorf("ykman ran %d times, want 2", n)
		}
		if took := time.Since(start); took < window/30 {
			t.Errorf("asked again after %v, before the next time step", took)
		}
		if got := readFile(t, tty); !strings.Contains(got, "touch it") {
			t.Errorf("terminal showed %q; want the notices", got)
		}
	})
	t.Run("same code again", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"111111"}, "")
		p := &Prompter{TTYPath: fakeTTY(t), Window: window}
		r := alice
		r.YubiKeyOATH, r.Used = "aws", usedJustNow(alice.Serial, "111111")
		_, _, err := p.Code(context.Background(), r)
		if !errors.Is(err, ErrReused) || strings.Contains(err.Error(), "111111") {
			t.Fatalf("error = %v; want ErrReused without the code", err)
		}
		if n := len(f.runs("ykman")); n != 2 {
			t.Errorf("ykman ran %d times, want 2", n)
		}
	})
	t.Run("another device's code", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"111111"}, "")
		p := &Prompter{TTYPath: fakeTTY(t), Window: time.Hour}
		r := alice
		r.YubiKeyOATH, r.Used = "aws", usedJustNow("arn:aws:iam::123456789012:mfa/bob", "111111")
		if code, _, err := p.Code(context.Background(), r); err != nil || code != "111111" {
			t.Fatalf("Code = %q, %v; want the code at once", code, err)
		}
	})
	t.Run("used long ago", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"111111"}, "")
		used := &memoryCodes{last: map[string]usedCode{}}
		used.Used(alice.Serial, "111111", time.Now().Add(-SpentFor))
		p := &Prompter{TTYPath: fakeTTY(t), Window: time.Hour}
		r := alice
		r.YubiKeyOATH, r.Used = "aws", used
		if code, _, err := p.Code(context.Background(), r); err != nil || code != "111111" {
			t.Fatalf("Code = %q, %v; want the code at once", code, err)
		}
	})
	t.Run("canceled while waiting", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"111111"}, "")
		p := &Prompter{TTYPath: fakeTTY(t), Window: time.Hour}
		r := alice
		r.YubiKeyOATH, r.Used = "aws", usedJustNow(alice.Serial, "111111")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, _, err := p.Code(ctx, r); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v; want the context's", err)
		}
	})
}

// mfa_process is waited for only after STS rejected its code: broker cannot
// know that it gives time-based codes, and test fixtures often do not.
func TestProcessReuse(t *testing.T) {
	p := &Prompter{TTYPath: fakeTTY(t), Window: 200 * time.Millisecond, Stderr: &bytes.Buffer{}}
	dir := t.TempDir()
	r := alice
	r.Used = usedJustNow(alice.Serial, "111111")
	r.Process = script(t, `f='`+dir+`/n'; if [ -e "$f" ]; then echo 222222; else touch "$f"; echo 111111; fi`)
	if code, _, err := p.Code(context.Background(), r); err != nil || code != "111111" {
		t.Fatalf("first attempt: Code = %q, %v; want the process's code as it is", code, err)
	}
	if err := removeAll(dir); err != nil {
		t.Fatal(err)
	}
	r.Attempt = 1
	if code, _, err := p.Code(context.Background(), r); err != nil || code != "222222" {
		t.Fatalf("after a rejection: Code = %q, %v; want the next code", code, err)
	}
}

func TestTokenReuse(t *testing.T) {
	p := &Prompter{Token: "111111"}
	r := alice
	r.Used = usedJustNow(alice.Serial, "111111")
	if code, _, err := p.Code(context.Background(), r); err != nil || code != "111111" {
		t.Fatalf("Code = %q, %v; the flag is sent as it is", code, err)
	}
	r.Attempt = 1
	_, _, err := p.Code(context.Background(), r)
	if !errors.Is(err, ErrReused) || !strings.Contains(err.Error(), "--mfa-token") || strings.Contains(err.Error(), "111111") {
		t.Fatalf("error = %v; want ErrReused naming the flag, not the code", err)
	}
}
