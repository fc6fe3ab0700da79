package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/urfave/cli/v2"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "print session credentials: the credential_process document, or export lines",
		ArgsUsage: "PROFILE",
		Description: "`--format json` (the default) prints the document the AWS config's credential_process\n" +
			"expects; `--format env` prints `export AWS_...=...` lines for eval or direnv.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "json", Usage: "`json` or `env`"},
			mfaTokenFlag,
		},
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			name, err := profileArg(c)
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "json" && format != "env" {
				return usageError{fmt.Errorf("unknown --format %q: use json or env", format)}
			}
			ctx, stop := signalContext(c)
			defer stop()
			creds, err := credentials(c, ctx, name)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(c.App.Writer)
			if format == "env" {
				writeEnv(w, creds)
			} else if err := writeJSON(w, creds); err != nil {
				return err
			}
			return w.Flush()
		},
	}
}

// processCredentials is the credential_process document.
type processCredentials struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func writeJSON(w *bufio.Writer, c broker.Credentials) error {
	return json.NewEncoder(w).Encode(processCredentials{
		Version:         1,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Expiration:      c.Expiration.UTC().Format(time.RFC3339),
	})
}

func writeEnv(w *bufio.Writer, c broker.Credentials) {
	for _, kv := range credentialEnv(c) {
		name, value, _ := strings.Cut(kv, "=")
		fmt.Fprintf(w, "export %s=%s\n", name, shellQuote(value))
	}
}

// credentialEnv is what a program needs in its environment to use c.
func credentialEnv(c broker.Credentials) []string {
	env := []string{
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + c.SessionToken,
		"AWS_CREDENTIAL_EXPIRATION=" + c.Expiration.UTC().Format(time.RFC3339),
	}
	if c.Region != "" {
		env = append(env, "AWS_REGION="+c.Region, "AWS_DEFAULT_REGION="+c.Region)
	}
	return env
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
