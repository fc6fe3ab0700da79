//go:build linux

package mfa

import (
	"context"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testpty"
)

func TestPromptAgainOnUsedCode(t *testing.T) {
	tty := testpty.Open(t)
	r := alice
	r.Used = usedJustNow(alice.Serial, "111111")
	done := codeAsync(context.Background(), &Prompter{TTYPath: tty.Path}, r)

	tty.WaitFor(t, alicePrompt)
	tty.Type(t, "111111\n")
	tty.WaitFor(t, "That code was just used; wait for the next one.\r\n"+alicePrompt)
	tty.Type(t, "222222\n")
	if res := <-done; res.err != nil || res.code != "222222" || !res.interactive {
		t.Fatalf("Code = %q, %v, %v; want the next code", res.code, res.interactive, res.err)
	}
}

func TestUntilNextStep(t *testing.T) {
	base := time.Unix(1_699_999_990, 0) // 10 s into a 30 s step
	for _, tt := range []struct {
		at   time.Time
		want time.Duration
	}{
		{base, 21 * time.Second},
		{base.Add(19*time.Second + 500*time.Millisecond), 1500 * time.Millisecond},
		{base.Add(20 * time.Second), 31 * time.Second}, // a step begins: wait for the next
	} {
		p := &Prompter{Now: func() time.Time { return tt.at }}
		if got := p.untilNextStep(); got != tt.want {
			t.Errorf("at %v: untilNextStep = %v, want %v", tt.at.Unix()%30, got, tt.want)
		}
	}
}
