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

	"github.com/broker-dev/broker/internal/testpty"
)

// noTTY is a terminal path that does not open, as for a program started by
// an IDE.
func noTTY(t *testing.T) string { return filepath.Join(t.TempDir(), "no-tty") }

func TestDialogWithoutTerminal(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		want    string // the dialog program run
		wantArg []string
	}{
		{name: "zenity first", env: []string{"DISPLAY=:0"}, want: "zenity",
			wantArg: []string{"--entry", "--title=broker", "--text=" + strings.TrimSpace(alicePrompt)}},
		{name: "on wayland", env: []string{"WAYLAND_DISPLAY=wayland-0"}, want: "zenity"},
		{name: "kdialog first under KDE", env: []string{"DISPLAY=:0", "XDG_CURRENT_DESKTOP=KDE"}, want: "kdialog",
			wantArg: []string{"--title", "broker", "--inputbox", strings.TrimSpace(alicePrompt)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakePATH(t)
			f.add("zenity", []string{"123456"}, "")
			f.add("kdialog", []string{"123456"}, "")
			p := &Prompter{TTYPath: noTTY(t), Env: tt.env}
			code, interactive, err := p.Code(context.Background(), alice)
			if err != nil || code != "123456" || !interactive {
				t.Fatalf("Code = %q, %v, %v; want 123456 typed in a dialog", code, interactive, err)
			}
			runs := f.runs(tt.want)
			if len(runs) != 1 {
				t.Fatalf("%s ran %d times, want once", tt.want, len(runs))
			}
			if tt.wantArg != nil && !slices.Equal(runs[0], tt.wantArg) {
				t.Errorf("%s ran with %q; want %q", tt.want, runs[0], tt.wantArg)
			}
		})
	}
}

func TestDialogNotChosen(t *testing.T) {
	t.Run("with a terminal", func(t *testing.T) {
		f := fakePATH(t)
		f.add("zenity", []string{"123456"}, "")
		tty := testpty.Open(t)
		done := codeAsync(context.Background(), &Prompter{TTYPath: tty.Path, Env: []string{"DISPLAY=:0"}}, alice)
		tty.WaitFor(t, alicePrompt)
		tty.Type(t, "654321\n")
		if res := <-done; res.err != nil || res.code != "654321" {
			t.Fatalf("Code = %q, %v; want the code typed on the terminal", res.code, res.err)
		}
		if n := len(f.runs("zenity")); n != 0 {
			t.Errorf("zenity ran %d times with a terminal there", n)
		}
	})
	t.Run("without a display", func(t *testing.T) {
		f := fakePATH(t)
		f.add("zenity", []string{"123456"}, "")
		p := &Prompter{TTYPath: noTTY(t), Env: []string{"HOME=/nowhere"}}
		_, _, err := p.Code(context.Background(), alice)
		if !errors.Is(err, ErrNoSource) {
			t.Fatalf("error = %v; want ErrNoSource", err)
		}
		for _, option := range []string{"--mfa-token", "mfa_process", "broker_yubikey_oath", "terminal", "zenity", "kdialog", "osascript"} {
			if !strings.Contains(err.Error(), option) {
				t.Errorf("error %q does not mention %s", err, option)
			}
		}
	})
}

// A source named by BROKER_MFA_PROMPT (Prompter.Prompt) or the profile's
// broker_mfa_prompt (Request.Prompt) is used even with a terminal there and
// without a display; the environment's wins.
func TestPromptNamed(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		profile string
		want    string
	}{
		{name: "profile", profile: "zenity", want: "zenity"},
		{name: "environment", env: "kdialog", want: "kdialog"},
		{name: "environment wins", env: "KDialog ", profile: "zenity", want: "kdialog"},
		{name: "ykman without an account", env: "ykman", want: "ykman"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakePATH(t)
			for _, name := range []string{"zenity", "kdialog", "ykman"} {
				f.add(name, []string{"123456"}, "")
			}
			p := &Prompter{Prompt: tt.env, TTYPath: fakeTTY(t), Env: []string{"HOME=/nowhere"}}
			r := alice
			r.Prompt = tt.profile
			if code, _, err := p.Code(context.Background(), r); err != nil || code != "123456" {
				t.Fatalf("Code = %q, %v", code, err)
			}
			for _, name := range []string{"zenity", "kdialog", "ykman"} {
				if n, want := len(f.runs(name)), map[bool]int{true: 1}[name == tt.want]; n != want {
					t.Errorf("%s ran %d times, want %d", name, n, want)
				}
			}
		})
	}
	t.Run("terminal over ykman", func(t *testing.T) {
		f := fakePATH(t)
		f.add("ykman", []string{"123456"}, "")
		tty := testpty.Open(t)
		r := alice
		r.YubiKeyOATH = "aws"
		done := codeAsync(context.Background(), &Prompter{Prompt: "terminal", TTYPath: tty.Path}, r)
		tty.WaitFor(t, alicePrompt)
		tty.Type(t, "654321\n")
		if res := <-done; res.err != nil || res.code != "654321" || !res.interactive {
			t.Fatalf("Code = %q, %v, %v; want the code typed on the terminal", res.code, res.interactive, res.err)
		}
		if n := len(f.runs("ykman")); n != 0 {
			t.Errorf("ykman ran %d times", n)
		}
	})
	t.Run("terminal without one", func(t *testing.T) {
		_, _, err := (&Prompter{Prompt: "terminal", TTYPath: noTTY(t)}).Code(context.Background(), alice)
		if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "BROKER_MFA_PROMPT is terminal") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		fakePATH(t)
		r := alice
		r.Prompt = "zenity"
		_, _, err := (&Prompter{TTYPath: noTTY(t)}).Code(context.Background(), r)
		if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), `broker_mfa_prompt of profile "dev" asks for zenity, which is not installed`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, _, err := (&Prompter{Prompt: "pinentry"}).Code(context.Background(), alice)
		if err == nil || !strings.Contains(err.Error(), `BROKER_MFA_PROMPT is "pinentry": want one of terminal, ykman, zenity, kdialog, osascript`) {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestDialogAsksAgain(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		f := fakePATH(t)
		f.add("zenity", []string{"12345", "654321"}, "")
		r := alice
		r.Prompt = "zenity"
		code, _, err := (&Prompter{TTYPath: noTTY(t)}).Code(context.Background(), r)
		if err != nil || code != "654321" {
			t.Fatalf("Code = %q, %v; want the second answer", code, err)
		}
		runs := f.runs("zenity")
		if len(runs) != 2 || !strings.HasPrefix(runs[1][2], "--text=That is not a 6-digit code. MFA code for") {
			t.Errorf("zenity ran with %q; want a second question saying why", runs)
		}
	})
	t.Run("just used", func(t *testing.T) {
		f := fakePATH(t)
		f.add("kdialog", []string{"111111", "222222"}, "")
		r := alice
		r.Prompt, r.Used = "kdialog", usedJustNow(alice.Serial, "111111")
		code, interactive, err := (&Prompter{TTYPath: noTTY(t)}).Code(context.Background(), r)
		if err != nil || code != "222222" || !interactive {
			t.Fatalf("Code = %q, %v, %v; want the next code", code, interactive, err)
		}
		runs := f.runs("kdialog")
		if len(runs) != 2 || !strings.HasPrefix(runs[1][3], "That code was just used; wait for the next one. MFA code for") {
			t.Errorf("kdialog ran with %q; want a second question saying why", runs)
		}
	})
	t.Run("just used, every time", func(t *testing.T) {
		f := fakePATH(t)
		f.add("zenity", []string{"111111"}, "")
		r := alice
		r.Prompt, r.Used = "zenity", usedJustNow(alice.Serial, "111111")
		_, _, err := (&Prompter{TTYPath: noTTY(t)}).Code(context.Background(), r)
		if !errors.Is(err, ErrReused) || strings.Contains(err.Error(), "111111") {
			t.Fatalf("error = %v; want ErrReused without the code", err)
		}
		if n := len(f.runs("zenity")); n != typedTries {
			t.Errorf("zenity ran %d times, want %d", n, typedTries)
		}
	})
	t.Run("after a rejection", func(t *testing.T) {
		f := fakePATH(t)
		f.add("zenity", []string{"123456"}, "")
		r := alice
		r.Prompt, r.Attempt = "zenity", 1
		if _, _, err := (&Prompter{TTYPath: noTTY(t)}).Code(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if runs := f.runs("zenity"); len(runs) != 1 || !strings.HasPrefix(runs[0][2], "--text=That code was not accepted.") {
			t.Errorf("zenity ran with %q", runs)
		}
	})
}

func TestDialogCanceled(t *testing.T) {
	f := fakePATH(t)
	f.add("zenity", []string{""}, "exit 1")
	var stderr bytes.Buffer
	r := alice
	r.Prompt = "zenity"
	_, _, err := (&Prompter{TTYPath: noTTY(t), Stderr: &stderr}).Code(context.Background(), r)
	if !errors.Is(err, ErrCanceled) || !strings.Contains(err.Error(), "the zenity dialog") {
		t.Fatalf("error = %v; want ErrCanceled", err)
	}
	if n := len(f.runs("zenity")); n != 1 {
		t.Errorf("zenity ran %d times after Cancel, want once", n)
	}
}

func TestDialogArgs(t *testing.T) {
	if got := dialogArgs("zenity", "MFA code for profile <b>&"); got[2] != "--text=MFA code for profile &lt;b&gt;&amp;" {
		t.Errorf("zenity text %q: markup not escaped", got[2])
	}
	got := dialogArgs("osascript", `profile "x"`)
	if got[len(got)-1] != `profile "x"` || strings.Contains(strings.Join(got[:len(got)-1], " "), "profile") {
		t.Errorf("osascript args %q: the text must be an argument, not part of the script", got)
	}
}
