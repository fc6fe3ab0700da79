package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

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
			"with COMMAND, so signals reach it directly and its exit status is broker's.\n\n" +
			"broker's flags go before COMMAND; everything from COMMAND on is COMMAND's, with or\n" +
			"without `--` (which is needed only when COMMAND itself starts with a dash).",
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
			shell := len(argv) == 0
			if shell {
				argv = []string{defaultShell()}
			}
			path, err := lookCommand(argv[0])
			if err != nil {
				return err
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
				if shell {
					announceShell(c.App.ErrWriter, name, argv[0], creds.Expiration, true)
				}
				return runServer(c, b, name, path, argv, creds.Region)
			}
			ctx, stop := signalContext(c)
			creds, err := credentials(c, ctx, name)
			stop()
			if err != nil {
				return err
			}
			if shell {
				announceShell(c.App.ErrWriter, name, argv[0], creds.Expiration, false)
			}
			env := childEnv(os.Environ(), append(credentialEnv(creds), markerVar+"="+name)...)
			return runChild(path, argv, env)
		},
	}
}

// announceShell says what the shell `broker exec PROFILE` starts holds: it
// looks like any other shell.
func announceShell(w io.Writer, profile, shell string, expires time.Time, server bool) {
	if server {
		fmt.Fprintf(w, "Starting %s with credentials of profile %q from a local endpoint, renewed as they expire (BROKER_PROFILE=%s). Exit the shell to stop.\n",
			shell, profile, profile)
		return
	}
	fmt.Fprintf(w, "Starting %s with the session of profile %q, valid until %s (%s from now; BROKER_PROFILE=%s). Exit the shell to leave it.\n",
		shell, profile, expires.UTC().Format(time.RFC3339), time.Until(expires).Round(time.Minute), profile)
}

// lookCommand finds the command to run as a shell would, and fails as a
// shell does: 127 when there is no such command, 126 when it cannot be run.
func lookCommand(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	if strings.ContainsRune(name, os.PathSeparator) || strings.ContainsRune(name, '/') {
		fi, serr := os.Stat(name)
		switch {
		case serr != nil:
			return "", codedError{fmt.Errorf("%s: no such file", name), 127}
		case fi.IsDir():
			return "", codedError{fmt.Errorf("%s: is a directory", name), 126}
		}
		return "", codedError{fmt.Errorf("%s: not executable", name), 126}
	}
	// A file of that name in PATH that may not be run is what a shell
	// reports as 126 too.
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
			return "", codedError{fmt.Errorf("%s: found %s, but it is not executable", name, filepath.Join(dir, name)), 126}
		}
	}
	return "", codedError{fmt.Errorf("%s: command not found", name), 127}
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
