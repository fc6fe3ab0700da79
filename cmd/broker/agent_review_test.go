//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agreesWithDirect warms the agent for profile, then runs the client with
// extraEnv and broker export with the agent off and the same variables, and
// fails unless both give the same exit status and output. The MFA codes
// the call through the agent asked are in w.viaAsks.
func (w *world) agreesWithDirect(profile string, extraEnv ...string) result {
	w.t.Helper()
	if r := w.client(nil, profile); r.code != 0 {
		w.t.Fatalf("warming the agent for %s: exit %d: %s", profile, r.code, r.stderr)
	}
	before := w.mfaAsks()
	via := w.client(extraEnv, profile)
	w.viaAsks = w.mfaAsks() - before
	direct := w.cmd(append([]string{"BROKER_AGENT=off"}, extraEnv...), brokerBin, "export", profile)
	if via.code != direct.code || via.stdout != direct.stdout {
		w.t.Errorf("%s with %v: through the agent exit %d %q, direct exit %d %q (stderr %q / %q)",
			profile, extraEnv, via.code, via.stdout, direct.code, direct.stdout, via.stderr, direct.stderr)
	}
	return via
}

// aws-vault's variables that broker reads change the direct path's answer
// (a refusal, a new session): the agent's answer follows them.
func TestAgentKeyCoversAWSVaultVariables(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w := newWorld(t)
	u := w.newUser("alice")
	other := w.newUser("bob")
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile ops]
region = eu-west-1
role_arn = arn:aws:iam::123456789012:role/ops
source_profile = dev
`, u.serial, w.mfaProcess("123456")))
	w.addKey("dev", u)
	for _, profile := range []string{"dev", "ops"} {
		decodeExport(t, w.client(nil, profile).stdout) // the first session: one code
	}
	for _, c := range []struct {
		profile, env string
		refused      bool
		asks         int // MFA codes the call through the agent asks: 1 for a new MFA session
	}{
		{"dev", "AWS_SESSION_TOKEN_TTL=5m", true, 0},
		{"dev", "AWS_ASSUME_ROLE_TTL=bogus", true, 0},
		// moto hands out the same GetSessionToken answer for any device,
		// so the new session shows in the code asked for it.
		{"dev", "AWS_MFA_SERIAL=" + other.serial, false, 1},
		{"ops", "AWS_CHAINED_SESSION_TOKEN_TTL=5m", true, 0},
		{"ops", "AWS_SESSION_TAGS=bogus", true, 0},
		{"ops", "AWS_SOURCE_IDENTITY=someone-else", false, 0},
	} {
		r := w.agreesWithDirect(c.profile, c.env)
		if refused := r.code != 0; refused != c.refused {
			t.Errorf("%s with %s: exit %d, want refused %v: %s", c.profile, c.env, r.code, c.refused, r.stderr)
		}
		if w.viaAsks != c.asks {
			t.Errorf("%s with %s: the call through the agent asked %d MFA codes, want %d", c.profile, c.env, w.viaAsks, c.asks)
		}
	}
}

// A command that changes keys in one runtime folder's environment reaches
// the clients of another's agent (a cron job or `su` login without the
// desktop's XDG_RUNTIME_DIR): a removed key's session is served by no agent.
func TestAgentChangeReachesEveryAgent(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	run2 := filepath.Join(w.root, "run2")
	if err := os.Mkdir(run2, 0o700); err != nil {
		t.Fatal(err)
	}
	env2 := []string{"XDG_RUNTIME_DIR=" + run2}
	t.Cleanup(func() { w.cmd(env2, brokerBin, "agent", "stop") })
	held2 := func() int {
		r := w.cmd(env2, brokerBin, "agent", "status")
		var held, minting int
		for _, line := range strings.Split(r.stdout, "\n") {
			fmt.Sscanf(line, "holding %d answer(s), %d being minted", &held, &minting)
		}
		return held
	}
	first := decodeExport(t, w.client(nil, "dev").stdout)
	for i := 0; i < 2; i++ {
		if r := w.client(env2, "dev"); r.code != 0 || decodeExport(t, r.stdout) != first {
			t.Fatalf("through the second agent: exit %d: %s", r.code, r.stderr)
		}
	}
	if held2() != 1 {
		t.Fatalf("the second agent holds %d answers, want 1", held2())
	}
	w.mustBroker("remove", "--yes", "dev")
	via := w.client(env2, "dev")
	direct := w.cmd(append([]string{"BROKER_AGENT=off"}, env2...), brokerBin, "export", "dev")
	if via.code == 0 || via.code != direct.code || via.stdout != "" {
		t.Errorf("after remove, the other agent's client: exit %d %q (direct: exit %d)", via.code, via.stdout, direct.code)
	}
	// And the other agent lets go of the removed key's session.
	waitUntil(t, func() bool { return held2() == 0 })
}

// An agent stopped with SIGSTOP accepts connections and never answers: every
// credential call takes the direct path after a few seconds, says so once,
// and none hangs.
func TestAgentStoppedFallsBack(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	first := decodeExport(t, w.client(nil, "dev").stdout)
	stopAgent(t, w)
	for _, args := range [][]string{
		{clientBin, "dev"},
		{brokerBin, "export", "dev"},
		{brokerBin, "exec", "dev", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID"},
	} {
		r := w.cmd(nil, args[0], args[1:]...)
		if r.code != 0 {
			t.Errorf("%v with a stopped agent: exit %d: %s", args, r.code, r.stderr)
			continue
		}
		if args[1] == "exec" {
			if r.stdout != first.AccessKeyID+"\n" {
				t.Errorf("exec with a stopped agent: %q, want the cached session's key", r.stdout)
			}
		} else if got := decodeExport(t, r.stdout); got != first {
			t.Errorf("%v with a stopped agent: another session than the cached one", args)
		}
		if n := strings.Count(r.stderr, "does not answer"); n != 1 {
			t.Errorf("%v with a stopped agent said %d times that it does not answer, want once: %q", args, n, r.stderr)
		}
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA asked %d times, want 1: the cached session serves", n)
	}
}

// An agent's answer that may not be handed out (here: five minutes left)
// is used by no client: export, exec and the small client take the direct
// path.
func TestAgentUnusableAnswerNotServed(t *testing.T) {
	t.Parallel() // a world of its own: its own runtime folder, agent and moto
	w, _ := setupDev(t)
	fake := "ASIAFAKE" + strings.Repeat("0", 12)
	reply := fmt.Sprintf(`{"status":"hit","creds":{"access_key_id":%q,"secret_access_key":"s","session_token":"t","expiration":%q}}`+"\n",
		fake, time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339))
	fakeAgent(t, w, func(string) string { return reply })
	for _, args := range [][]string{{clientBin, "dev"}, {brokerBin, "export", "dev"}} {
		r := w.cmd(nil, args[0], args[1:]...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		e := decodeExport(t, r.stdout)
		exp, _ := time.Parse(time.RFC3339, e.Expiration)
		if e.AccessKeyID == fake || time.Until(exp) < 15*time.Minute {
			t.Errorf("%v printed the agent's unusable answer (%s, until %s)", args, e.AccessKeyID, e.Expiration)
		}
	}
	r := w.cmd(nil, brokerBin, "exec", "dev", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID")
	if r.code != 0 || r.stdout == fake+"\n" {
		t.Errorf("exec: exit %d, %q: %s", r.code, r.stdout, r.stderr)
	}
}
