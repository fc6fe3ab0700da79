package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/urfave/cli/v2"
)

// openerWait is how long login waits for the browser opener to report a
// failure; an opener still running then (xdg-open may wait for a browser it
// started) is left to finish on its own.
const openerWait = 10 * time.Second

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "open the AWS console signed in with the profile's credentials",
		ArgsUsage: "PROFILE",
		Description: "Makes a console sign-in URL through the AWS federation endpoint and opens it in your\n" +
			"browser. A role profile signs in with its role session, for the role's duration_seconds\n" +
			"(at most 12 h); an IAM user's profile with a federation token (GetFederationToken, signed\n" +
			"by the stored key after the MFA session gate) for its duration_seconds (default 1 h, at\n" +
			"most 36 h), with the IAM user's own permissions. AWS does not mark a federation-token\n" +
			"console session as MFA-authenticated.\n\n" +
			"The URL holds a sign-in token: for 15 minutes whoever has it gets the console session.\n" +
			"The browser opener (open, xdg-open, rundll32) receives it as an argument, visible to\n" +
			"other processes of this machine until it exits; --stdout prints it instead.\n\n" +
			"BROKER_FEDERATION_URL replaces the partition's federation endpoint\n" +
			"(https://signin.aws.amazon.com/federation, signin.amazonaws.cn, signin.amazonaws-us-gov.com).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stdout", Usage: "print the sign-in URL instead of opening a browser (it signs anyone in for 15 minutes)"},
			&cli.StringFlag{Name: "path", Usage: "console `PATH` to land on, such as s3/home (default console/home)"},
			mfaTokenFlag,
		},
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			name, err := profileArg(c)
			if err != nil {
				return err
			}
			b, err := newBroker(c)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(c)
			defer stop()
			login, err := b.Login(ctx, name, broker.LoginOptions{
				Path:          c.String("path"),
				FederationURL: os.Getenv("BROKER_FEDERATION_URL"),
			})
			if err != nil {
				return loginHint(err)
			}
			if c.Bool("stdout") {
				_, err := fmt.Fprintln(c.App.Writer, login.URL)
				return err
			}
			if err := openBrowser(ctx, login.URL); err != nil {
				return withHint(err, "pass --stdout to print the sign-in URL and open it yourself")
			}
			fmt.Fprintf(c.App.ErrWriter, "Opened the AWS console for profile %q in your browser (a %s session).\n", name, login.Duration)
			return nil
		},
	}
}

// loginHint adds advice for the federation endpoint's failures.
func loginHint(err error) error {
	var fe *broker.FederationError
	var down *broker.UnreachableError
	switch {
	case errors.As(err, &fe):
		return withHint(err, "AWS refused the session: a role's duration_seconds may exceed its maximum session duration, or BROKER_FEDERATION_URL points elsewhere")
	case errors.As(err, &down) && down.Service == "federation":
		return withHint(err, "check your network, or BROKER_FEDERATION_URL if set")
	}
	return err
}

// openBrowser hands url to the platform's opener. The URL is all it gets:
// never the session credentials, only the sign-in token they bought.
func openBrowser(ctx context.Context, url string) error {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name, args = "open", []string{url}
	case "windows":
		// Not `cmd /c start`: cmd would read the URL's & as a command separator.
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		name, args = "xdg-open", []string{url}
	}
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("opening a browser: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(openerWait)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("opening a browser with %s: %v", name, err)
		}
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil
}
