package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"
)

// markerVar marks a `broker exec` environment, so a nested one can say so.
const markerVar = "BROKER_PROFILE"

// awsVaultVar marks an aws-vault exec environment.
const awsVaultVar = "AWS_VAULT"

// strippedVars are removed from the child's environment: inherited
// credentials or profile choices would compete with the session's. Every
// variable broker sets is removed too before it is set, so each appears
// once.
var strippedVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", awsVaultVar,
}

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command with session credentials in its environment",
		ArgsUsage: "PROFILE [-- COMMAND [ARGS...]]",
		Description: "Runs COMMAND (default $SHELL) with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n" +
			"AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION and the profile's region. Inherited AWS\n" +
			"credential and profile variables are removed first. On Unix broker replaces itself\n" +
			"with COMMAND, so signals reach it directly and its exit status is broker's.",
		Flags:        []cli.Flag{mfaTokenFlag, serverFlag},
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.Args().First() == "" {
				return usageError{errors.New("exec needs a PROFILE argument")}
			}
			name, err := checkProfileName(c.Args().First())
			if err != nil {
				return err
			}
			argv := c.Args().Tail()
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if outer := os.Getenv(markerVar); outer != "" {
				return withHint(fmt.Errorf("already inside `broker exec` for profile %q: not stacking sessions", outer),
					"exit that shell first, or run the command there directly")
			}
			if outer := os.Getenv(awsVaultVar); outer != "" {
				return withHint(fmt.Errorf("inside an aws-vault shell for profile %q (%s is set): not stacking sessions", outer, awsVaultVar),
					"exit that shell first, then run broker exec")
			}
			if len(argv) == 0 {
				argv = []string{defaultShell()}
			}
			path, err := exec.LookPath(argv[0])
			if err != nil {
				return withHint(fmt.Errorf("command %q not found", argv[0]), "check the command name and PATH")
			}
			if c.Bool(serverFlag.Name) {
				// The server mints as the command runs: it keeps its own
				// broker, and its endpoint stays in this process.
				b, err := newBroker(c)
				if err != nil {
					return err
				}
				ctx, stop := signalContext(c)
				creds, err := b.Credentials(ctx, name)
				stop()
				if err != nil {
					return err
				}
				return runServer(c, b, name, path, argv, creds.Region)
			}
			ctx, stop := signalContext(c)
			creds, err := credentials(c, ctx, name)
			stop()
			if err != nil {
				return err
			}
			env := childEnv(os.Environ(), append(credentialEnv(creds), markerVar+"="+name)...)
			return runChild(path, argv, env)
		},
	}
}

// childEnv is environ without the variables broker removes or sets, then
// set: one entry for each name, whatever environ held.
func childEnv(environ []string, set ...string) []string {
	drop := make(map[string]bool, len(strippedVars)+len(set))
	for _, name := range strippedVars {
		drop[envKey(name)] = true
	}
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		drop[envKey(name)] = true
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[envKey(name)] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// envKey is how the OS compares variable names: without case on Windows.
func envKey(name string) string {
	if runtime.GOOS == "windows" {
		return strings.ToUpper(name)
	}
	return name
}

func defaultShell() string {
	if sh := os.Getenv("SHELL"); sh != "" {
		return sh
	}
	if runtime.GOOS == "windows" {
		return firstNonEmpty(os.Getenv("COMSPEC"), "cmd.exe")
	}
	return "/bin/sh"
}
