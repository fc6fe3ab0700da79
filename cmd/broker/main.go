// Command broker keeps long-term AWS keys in the OS keychain and hands
// programs only MFA-gated STS session credentials.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

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
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	report(stderr, err)
	var st statusError
	if errors.As(err, &st) {
		return st.status
	}
	return 1
}

// exitCode ends broker with a code and no message (exec's child status).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "broker",
		Usage: "keep AWS keys in the keychain, hand out only MFA-gated sessions",
		Description: "broker stores long-term IAM access keys in the OS keychain and gives programs\n" +
			"only temporary STS session credentials, gated by MFA, through credential_process\n" +
			"(`broker setup`), `broker exec` and `broker export`.",
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
