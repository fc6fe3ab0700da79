package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/agent/wire"
	"github.com/urfave/cli/v2"
)

// How broker's commands use the agent. export and exec ask it first; when
// it holds no answer it makes this process the minter (or this process
// waits while another one mints), and the minter hands its direct-path
// answer in. When the agent is off, missing and cannot be started, refused
// as unsafe, or goes away mid-call, the command takes the direct path as
// if there were no agent: the file lock still keeps to one MFA code.

const (
	// flightWait bounds the wait for another client's flight (a person
	// typing a code), as the session lock's wait does.
	flightWait = 5 * time.Minute
)

// credentials returns name's session credentials: the agent's answer, or
// the direct path's, handed to the agent when it chose this process.
func credentials(c *cli.Context, ctx context.Context, name string) (broker.Credentials, error) {
	debugf := debugLogger(c)
	answer, fl := askAgent(ctx, name, debugf, c.App.ErrWriter)
	if answer != nil {
		return *answer, nil
	}
	b, err := newBroker(c)
	if err != nil {
		fl.done(broker.Credentials{}, err)
		return broker.Credentials{}, err
	}
	creds, err := b.Credentials(ctx, name)
	fl.done(creds, err)
	return creds, err
}

// agentFlight is this process's turn to mint an answer for the agent; nil
// when the agent is not in the call.
type agentFlight struct {
	conn   *wire.Conn
	key    string
	debugf func(string, ...any)
}

// askAgent returns the agent's answer for name, or else the flight this
// process mints for it (nil when the agent cannot take part).
func askAgent(ctx context.Context, name string, debugf func(string, ...any), stderr io.Writer) (*broker.Credentials, *agentFlight) {
	if !wire.Enabled(os.Getenv) {
		return nil, nil
	}
	dir, err := wire.Dir()
	if err != nil {
		debugf("agent: not asked: %v", err)
		return nil, nil
	}
	gen, err := wire.GenerationPath()
	if err != nil {
		debugf("agent: not asked: %v", err)
		return nil, nil
	}
	key, err := wire.Key(gen, name, os.Environ())
	if err != nil {
		debugf("agent: not asked: %v", err)
		return nil, nil
	}
	conn, err := wire.Dial(dir)
	if err != nil {
		debugf("agent: %v; starting it", err)
		if _, err := startAgent(""); err != nil {
			debugf("agent: %v", err)
			return nil, nil
		}
		if conn, err = wire.Dial(dir); err != nil {
			debugf("agent: %v", err)
			return nil, nil
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	answer, err := conn.Get(key, true, wire.IdleLimit, flightWait, time.Now)
	stop()
	switch {
	case errors.Is(err, wire.ErrUnresponsive):
		conn.Close()
		if wire.AnswersStatus(dir, time.Second) {
			// Alive, and silent while another client mints: an agent of
			// before protocol 2, which sends no "wait" lines. Not a stopped
			// agent: no warning; the session lock keeps to one MFA code.
			debugf("agent: silent on get but answers status (an older agent?); taking the direct path")
			return nil, nil
		}
		warnUnresponsive(stderr)
		return nil, nil
	case err != nil:
		conn.Close()
		debugf("agent: %v; taking the direct path", err)
		return nil, nil
	case answer.Creds != nil:
		conn.Close()
		cr := answer.Creds
		debugf("agent: answered for profile %q, until %s", name, cr.Expiration.Format(time.RFC3339))
		return &broker.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey,
			SessionToken: cr.SessionToken, Expiration: cr.Expiration, Region: cr.Region}, nil
	case answer.Mint:
		debugf("agent: this process mints profile %q's answer", name)
		return nil, &agentFlight{conn: conn, key: key, debugf: debugf}
	}
	conn.Close()
	debugf("agent: no answer; taking the direct path")
	return nil, nil
}

// warnUnresponsive says, once per call, that the agent accepted the
// connection but did not answer (stopped with SIGSTOP, hung), and that the
// call takes the direct path: it works, at the cost of the keychain.
func warnUnresponsive(stderr io.Writer) {
	fmt.Fprintf(stderr, "broker: the agent at %s does not answer; taking the direct path\n"+
		"hint: if you stopped it, `kill -CONT` it; else `broker agent stop` ends it (`broker agent status` names its pid), or set BROKER_AGENT=off\n",
		agentSocket())
}

// done hands the direct path's answer to the agent, or passes the flight
// on when there is none.
func (f *agentFlight) done(creds broker.Credentials, err error) {
	if f == nil {
		return
	}
	defer f.conn.Close()
	req := wire.Request{Op: wire.OpFail, Key: f.key}
	if err == nil {
		req = wire.Request{Op: wire.OpPut, Key: f.key, Creds: &wire.Credentials{
			AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
			SessionToken: creds.SessionToken, Expiration: creds.Expiration, Region: creds.Region,
		}}
	}
	if _, err := f.conn.Do(req, 5*time.Second); err != nil {
		f.debugf("agent: handing in: %v", err)
	}
}

func agentSocket() string {
	dir, err := wire.Dir()
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	return filepath.Join(dir, wire.SocketName)
}

// agentEnv is the agent's whole environment: where its folder and the
// generation are, and no more. It reads no config and no keychain, and must not start a D-Bus.
func agentEnv(idle string) []string {
	env := []string{"DBUS_SESSION_BUS_ADDRESS=disabled:", intermediateVar + "=1"}
	for _, name := range []string{"XDG_RUNTIME_DIR", "TMPDIR", "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", idleVar} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	if idle != "" {
		env = append(env, idleVar+"="+idle)
	}
	return env
}

// changesKeys wraps a command that changes keys or sessions: the
// generation is marked as changing before it runs and renewed after, and
// the agents this user may run drop what they hold both times (see
// wire.BeginChange). The generation is in the user's config folder, beside
// the backend record, so every agent's clients see the change, whatever
// runtime folder they use; the agents themselves watch it too.
func changesKeys(cmd *cli.Command) *cli.Command {
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		debugf := debugLogger(c)
		if !wire.Supported {
			return action(c)
		}
		inv := invalidation{debugf: debugf, stderr: c.App.ErrWriter, silent: map[string]bool{}}
		gen, err := wire.GenerationPath()
		if err != nil {
			// No config folder: no client can make a key, so none asks an
			// agent; the agents are told all the same.
			debugf("agent: %v", err)
			inv.run()
			defer inv.run()
			return action(c)
		}
		if err := wire.BeginChange(gen); err != nil {
			debugf("agent: marking a change: %v", err)
		}
		inv.run()
		defer func() {
			if err := wire.EndChange(gen); err != nil {
				debugf("agent: ending a change: %v", err)
			}
			inv.run()
		}()
		return action(c)
	}
	return cmd
}

// invalidateWait bounds, for all the agents at once, the wait for their
// acknowledgement of an invalidation. An agent that answers does so within
// a millisecond; one that does not (stopped, hung) costs a key-changing
// command this much once, and no correctness: it drops its answers by the
// generation's check as soon as it runs again.
const invalidateWait = time.Second

// invalidation tells the agents this user's processes usually reach
// (this runtime folder's, and those of the other runtime folders broker
// chooses from, wire.AgentDirs) to drop what they hold at once. An agent
// elsewhere (another XDG_RUNTIME_DIR) drops it within a second of the
// generation's change.
type invalidation struct {
	debugf func(string, ...any)
	stderr io.Writer
	silent map[string]bool // agents that did not answer: not asked again, said once
}

// run tells every agent at once, waiting at most invalidateWait in all.
func (inv *invalidation) run() {
	var dirs []string
	for _, dir := range wire.AgentDirs() {
		if !inv.silent[dir] {
			dirs = append(dirs, dir)
		}
	}
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	deadline := time.Now().Add(invalidateWait)
	for i, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := wire.Dial(dir)
			if err != nil {
				if !errors.Is(err, wire.ErrNotRunning) {
					errs[i] = err
				}
				return
			}
			defer conn.Close()
			_, errs[i] = conn.Do(wire.Request{Op: wire.OpInvalidate}, time.Until(deadline))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			inv.silent[dirs[i]] = true
			fmt.Fprintf(inv.stderr, "broker: the agent at %s does not answer; what it holds is not handed out again all the same (every question names the keys' generation, which this command renews)\n"+
				"hint: if you stopped it, `kill -CONT` it; `broker agent status` names it\n",
				filepath.Join(dirs[i], wire.SocketName))
		case err != nil:
			inv.debugf("agent: invalidating %s: %v", dirs[i], err)
		}
	}
}
