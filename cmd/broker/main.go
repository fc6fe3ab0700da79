// Command broker keeps long-term AWS keys in the OS keychain and hands
// programs only MFA-gated STS session credentials.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=..."
var version string

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if isCompletion(args) {
		complete(app, args[1:len(args)-1], stdout)
		return 0
	}
	ordered, err := orderArgs(app, args)
	if err == nil {
		err = app.Run(ordered)
	}
	return exitStatus(stderr, err)
}

// exitStatus reports err and turns it into broker's exit status: 2 for a
// mistake in the command line, 128+N after signal N, a command's own
// status for exec, else 1.
func exitStatus(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if sig, ok := interruption(err); ok {
		if sig == syscall.SIGINT {
			newlineOnTerminal()
		}
		var h hinted
		if errors.As(err, &h) {
			report(stderr, err)
		}
		return 128 + int(sig)
	}
	report(stderr, err)
	var coded codedError
	var usage usageError
	switch {
	case errors.As(err, &coded):
		return coded.code
	case errors.As(err, &usage):
		return 2
	}
	return 1
}

// exitCode ends broker with a code and no message (exec's child status).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// codedError is reported as usual and ends broker with its code (exec's
// 126 and 127, as shells use them; 2 for `keys --all` failing).
type codedError struct {
	err  error
	code int
}

func (c codedError) Error() string { return c.err.Error() }
func (c codedError) Unwrap() error { return c.err }

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "broker",
		Usage: "keep AWS keys in the keychain, hand out only MFA-gated sessions",
		Description: "broker stores long-term IAM access keys in the OS keychain and gives programs\n" +
			"only temporary STS session credentials, gated by MFA, through credential_process\n" +
			"(`broker setup`), `broker exec` and `broker export`.\n\n" +
			"`broker help COMMAND` describes a command and its flags. Flags may come before or\n" +
			"after the arguments; `--` ends them.",
		Version:              buildVersion(),
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "log what broker does to stderr (never secrets)"},
		},
		Commands: []*cli.Command{
			changesKeys(addCommand()), listCommand(), changesKeys(removeCommand()), exportCommand(), execCommand(),
			changesKeys(clearCommand()), setupCommand(),
			keysCommand(), changesKeys(rotateCommand()), changesKeys(revokeCommand()), auditCommand(),
			changesKeys(importCommand()),
			loginCommand(), policyCommand(), agentCommand(),
			completionCommand(),
		},
		// Errors are reported once, by run, with a hint.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
	hideHelpCommands(app.Commands)
	return app
}

// hideHelpCommands: `broker help X` and `broker X help` are read by
// orderArgs, so urfave/cli's own help subcommands would only take names a
// profile might have.
func hideHelpCommands(cmds []*cli.Command) {
	for _, c := range cmds {
		c.HideHelpCommand = true
		hideHelpCommands(c.Subcommands)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "dev"
}
