package main

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/broker-dev/broker/broker/agent"
	"github.com/broker-dev/broker/broker/agent/wire"
	"github.com/urfave/cli/v2"
)

// idleVar sets the agent's idle time, as --idle does.
const idleVar = "BROKER_AGENT_IDLE"

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "the per-user agent that keeps sessions in memory for the warm path",
		Description: "broker starts the agent by itself on first use; `broker agent` (or `broker agent start`)\n" +
			"starts it in the background, `--foreground` runs it in this process (for a systemd user unit\n" +
			"or a launchd agent). It exits once it has held no usable session and served nobody for the\n" +
			"idle time. BROKER_AGENT=off makes every command work without it.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "foreground", Usage: "run the agent in this process, logging to stderr"},
			&cli.StringFlag{Name: "idle", Usage: "exit after this long (`DURATION`, e.g. 15m) with nothing held (default $" + idleVar + " or 15m)"},
		},
		Subcommands: []*cli.Command{
			{Name: "start", Usage: "start the agent in the background unless it runs", Action: agentStart},
			{Name: "status", Usage: "say whether the agent runs, and what it holds", Action: agentStatus},
			{Name: "stop", Usage: "stop the agent; what it held is dropped (the keychain cache stays)", Action: agentStop},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("unknown agent command %q: use start, status or stop", c.Args().First())}
			}
			if c.Bool("foreground") {
				return agentForeground(c)
			}
			return agentStart(c)
		},
	}
}

// agentIdle is --idle, else $BROKER_AGENT_IDLE, else the default.
func agentIdle(c *cli.Context) (time.Duration, error) {
	text := firstNonEmpty(c.String("idle"), os.Getenv(idleVar))
	if text == "" {
		return agent.DefaultIdle, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		return 0, usageError{fmt.Errorf("invalid idle time %q: use a duration such as 15m", text)}
	}
	return d, nil
}

func agentUnsupported() error {
	return withHint(errors.New("the broker agent is not supported on this system"),
		"every command works without it; BROKER_AGENT=off says so explicitly")
}

func agentForeground(c *cli.Context) error {
	if !wire.Supported {
		return agentUnsupported()
	}
	idle, err := agentIdle(c)
	if err != nil {
		return err
	}
	if err := agent.Harden(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	logger := log.New(c.App.ErrWriter, "broker agent: ", log.LstdFlags)
	dir, err := wire.Dir()
	if err != nil {
		return err
	}
	gen, _ := wire.GenerationPath() // none: no client can make a key either
	s := &agent.Server{Dir: dir, Idle: idle, Logf: logger.Printf, Generation: gen}
	err = s.Run(ctx)
	if errors.Is(err, agent.ErrRunning) {
		return withHint(err, "`broker agent status` shows it; `broker agent stop` stops it")
	}
	return err
}

func agentStart(c *cli.Context) error {
	if !wire.Supported {
		return agentUnsupported()
	}
	if _, err := agentIdle(c); err != nil {
		return err
	}
	st, err := startAgent(c.String("idle"))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "broker agent running (pid %d)\n", st.PID)
	return nil
}

func agentStatus(c *cli.Context) error {
	st, pid, err := agentRequest(wire.Request{Op: wire.OpStatus})
	if errors.Is(err, wire.ErrNotRunning) {
		fmt.Fprintf(c.App.Writer, "not running (socket %s)\n", agentSocket())
		return exitCode(3)
	}
	if isTimeout(err) {
		return unresponsiveAgent(pid)
	}
	if err != nil {
		return err
	}
	a := st.Agent
	if a == nil {
		return errors.New("the agent answered without its status")
	}
	fmt.Fprintf(c.App.Writer, "running: pid %d, since %s, socket %s\n", a.PID, a.Started.Local().Format(time.RFC3339), agentSocket())
	fmt.Fprintf(c.App.Writer, "holding %d answer(s), %d being minted; exits after %s with nothing held\n", a.Answers, a.Flights, a.Idle)
	if gen, err := wire.GenerationPath(); err == nil {
		if pid := wire.Changer(gen); pid != 0 {
			fmt.Fprintf(c.App.Writer, "not used by clients now: pid %d is changing keys (marked in %s); "+
				"if no broker command of yours runs as pid %d, one was killed: the next key change, or deleting that file, ends it\n", pid, gen, pid)
		}
	}
	return nil
}

// unresponsiveAgent is the error for an agent that accepted the connection
// and did not answer (stopped with SIGSTOP, hung), naming its pid.
func unresponsiveAgent(pid int) error {
	if pid == 0 {
		return withHint(fmt.Errorf("the agent at %s does not answer", agentSocket()),
			"if you stopped it, `kill -CONT` it; or set BROKER_AGENT=off")
	}
	return withHint(fmt.Errorf("the agent (pid %d) at %s does not answer", pid, agentSocket()),
		"stopped? `kill -CONT %d`; or end it: `broker agent stop` (or `kill %d`)", pid, pid)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// agentStop asks the agent to stop. One that does not answer is ended by
// signal: SIGTERM, then SIGCONT so that a stopped one runs to handle it. Its
// pid is the kernel's word for who serves broker's socket in this user's
// private folder (SO_PEERCRED), checked to run as this user by wire.Dial:
// not a pid file that another process might have come to own.
func agentStop(c *cli.Context) error {
	st, pid, err := agentRequest(wire.Request{Op: wire.OpStatus})
	if errors.Is(err, wire.ErrNotRunning) {
		fmt.Fprintln(c.App.ErrWriter, "No broker agent is running.")
		return nil
	}
	switch {
	case isTimeout(err) && pid != 0:
		if err := endAgent(pid); err != nil {
			return fmt.Errorf("ending the agent (pid %d), which does not answer: %w", pid, err)
		}
	case isTimeout(err):
		return unresponsiveAgent(0)
	case err != nil:
		return err
	default:
		pid = st.Agent.PID
		if _, _, err := agentRequest(wire.Request{Op: wire.OpStop}); err != nil {
			return err
		}
	}
	// Stopped means gone: wait for the socket to stop answering.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := agentRequest(wire.Request{Op: wire.OpStatus}); errors.Is(err, wire.ErrNotRunning) {
			fmt.Fprintf(c.App.ErrWriter, "Stopped the broker agent (pid %d).\n", pid)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("the broker agent (pid %d) did not stop within 5s", pid)
}

// agentRequest sends one request to a running agent; pid is the process
// serving the socket (0 when unknown), also when it does not answer.
func agentRequest(req wire.Request) (resp wire.Response, pid int, err error) {
	if !wire.Supported {
		return wire.Response{}, 0, wire.ErrNotRunning
	}
	dir, err := wire.Dir()
	if err != nil {
		return wire.Response{}, 0, err
	}
	conn, err := wire.Dial(dir)
	if err != nil {
		return wire.Response{}, 0, err
	}
	defer conn.Close()
	resp, err = conn.Do(req, 5*time.Second)
	return resp, conn.PID(), err
}
