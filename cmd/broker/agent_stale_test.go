//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Staleness: after each event that changes what the direct path returns,
// the next call through the agent returns what the direct path returns,
// and shows that it was made anew (a new MFA code, a call signed by the new
// key, another region), not kept from before.

// sameAsDirect runs the client and then broker with the agent off, and
// fails unless both give the same: exit status and output. What the client
// call did (MFA codes, the last GetSessionToken's key) is in w.viaAsks and
// w.viaSigner, before the direct call can add to it.
func (w *world) sameAsDirect(event string, extraEnv ...string) result {
	w.t.Helper()
	before := w.mfaAsks()
	via := w.client(extraEnv, "dev")
	w.viaAsks = w.mfaAsks() - before
	if gst := w.calls("GetSessionToken"); len(gst) > 0 {
		w.viaSigner = gst[len(gst)-1].SigningKeyID
	}
	direct := w.cmd(append([]string{"BROKER_AGENT=off"}, extraEnv...), brokerBin, "export", "dev")
	if via.code != direct.code || via.stdout != direct.stdout {
		w.t.Errorf("after %s: through the agent exit %d %q, direct exit %d %q (stderr %q / %q)",
			event, via.code, via.stdout, direct.code, direct.stdout, via.stderr, direct.stderr)
	}
	return via
}

func TestAgentNeverStale(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w := newWorld(t)
	u := w.newUser("alice")
	dev := func(extra string) {
		w.writeConfig(fmt.Sprintf("[profile dev]\nmfa_serial = %s\nmfa_process = %s\n%s", u.serial, w.mfaProcess("123456"), extra))
	}
	dev("")
	w.addKey("dev", u)
	w.sameAsDirect("the first call")
	if w.agentPID() == 0 {
		t.Fatal("no agent")
	}
	// Steps in one world, in order: each begins where the last ended.
	step := func(name string, f func()) { t.Logf("step: %s", name); f() }
	expectMint := func(event string) {
		t.Helper()
		if w.viaAsks != 1 {
			t.Errorf("after %s: the call through the agent asked %d MFA codes, want 1 (a new session)", event, w.viaAsks)
		}
	}

	step("config edited", func() {
		dev("broker_session_duration = 7h\n")
		w.sameAsDirect("a config edit")
		expectMint("a config edit")
	})
	step("AWS_REGION", func() {
		for _, region := range []string{"ap-south-1", "sa-east-1"} {
			env := []string{"AWS_REGION=" + region}
			via := w.cmd(env, brokerBin, "exec", "dev", "--", "sh", "-c", "echo $AWS_REGION")
			direct := w.cmd(append(env, "BROKER_AGENT=off"), brokerBin, "exec", "dev", "--", "sh", "-c", "echo $AWS_REGION")
			if via.stdout != region+"\n" || via.stdout != direct.stdout {
				t.Errorf("exec with AWS_REGION=%s: through the agent %q, direct %q", region, via.stdout, direct.stdout)
			}
		}
	})
	step("AWS_ENDPOINT_URL", func() {
		// Another endpoint, where nothing answers: the direct path still
		// serves the cached session, and so does the agent's.
		w.sameAsDirect("another endpoint", "AWS_ENDPOINT_URL=http://127.0.0.1:9")
	})
	step("clear", func() {
		w.mustBroker("clear")
		w.sameAsDirect("clear")
		expectMint("clear")
	})
	step("add replacing the key", func() {
		bob := w.newUser("bob")
		dev("")
		w.sameAsDirect("a config edit")
		r := w.cmd([]string{"AWS_ACCESS_KEY_ID=" + bob.keyID, "AWS_SECRET_ACCESS_KEY=" + bob.secret},
			brokerBin, "add", "--env", "--force", "dev")
		if r.code != 0 {
			t.Fatalf("broker add --force: exit %d: %s", r.code, r.stderr)
		}
		w.sameAsDirect("add")
		expectMint("add")
		if w.viaSigner != bob.keyID {
			t.Errorf("after add, the session was signed by %s, want the new key %s", w.viaSigner, bob.keyID)
		}
		r = w.cmd([]string{"AWS_ACCESS_KEY_ID=" + u.keyID, "AWS_SECRET_ACCESS_KEY=" + u.secret},
			brokerBin, "add", "--env", "--force", "dev")
		if r.code != 0 {
			t.Fatalf("broker add --force: exit %d: %s", r.code, r.stderr)
		}
		w.sameAsDirect("add back")
		expectMint("add back")
	})
	step("rotate", func() {
		old := w.viaSigner
		if out, errOut, code := w.broker("rotate", "--yes", "dev"); code != 0 {
			t.Fatalf("rotate: exit %d %q: %s", code, out, errOut)
		}
		w.sameAsDirect("rotate")
		expectMint("rotate")
		if w.viaSigner == old {
			t.Errorf("after rotate, the session was still signed by the old key %s", old)
		}
	})
	step("remove", func() {
		w.mustBroker("remove", "--yes", "dev")
		if r := w.sameAsDirect("remove"); r.code == 0 {
			t.Errorf("after remove, the profile still gets credentials: %s", r.stdout)
		}
	})
}

// Every command that changes keys or sessions renews the generation and
// makes the agent drop what it holds, even when it fails.
func TestAgentChangeCommandsInvalidate(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	gen := filepath.Join(w.home, ".config", "broker", "agent-generation")
	for _, args := range [][]string{
		{"add"}, {"remove"}, {"clear", "nosuchprofile"}, {"rotate"}, {"revoke"},
		{"import", "--from", filepath.Join(w.root, "missing")},
		{"keys", "activate"}, {"keys", "deactivate"}, {"keys", "delete"},
	} {
		decodeExport(t, w.client(nil, "dev").stdout)
		if held := heldAnswers(t, w); held != 1 {
			t.Fatalf("before %v: the agent holds %d answers, want 1", args, held)
		}
		before, _ := os.ReadFile(gen)
		w.broker(args...)
		after, err := os.ReadFile(gen)
		if err != nil || string(after) == string(before) || strings.HasPrefix(string(after), "changing") {
			t.Errorf("broker %v left the generation %q (was %q, %v)", args, after, before, err)
		}
		if held := heldAnswers(t, w); held != 0 {
			t.Errorf("after broker %v the agent still holds %d answers", args, held)
		}
	}
}

func heldAnswers(t *testing.T, w *world) int {
	out, _, _ := w.broker("agent", "status")
	var held, minting int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "holding ") {
			fmt.Sscanf(line, "holding %d answer(s), %d being minted", &held, &minting)
			return held
		}
	}
	t.Fatalf("no agent status: %q", out)
	return 0
}
