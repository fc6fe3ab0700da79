package main

import (
	"encoding/json"
	"fmt"

	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/urfave/cli/v2"
)

func policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "print the IAM policy broker needs, and the statement that makes MFA mandatory",
		Description: "Prints two IAM policy documents. The first allows every broker command: its own-key\n" +
			"statements suit every user; its account statement (other users' keys, the credential report,\n" +
			"revoke --sessions) is for administrators only. The second denies everything not authenticated\n" +
			"with MFA except what getting an MFA session takes, so that a leaked key alone is useless.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print both as one JSON object"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{fmt.Errorf("policy takes no arguments")}
			}
			p := lifecycle.BrokerPolicies()
			if c.Bool("json") {
				return printJSON(c.App.Writer, p)
			}
			perms, err := json.MarshalIndent(p.Permissions, "", "  ")
			if err != nil {
				return err
			}
			mfa, err := json.MarshalIndent(p.RequireMFA, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "# The permissions broker's commands need (drop the last statement for users who\n"+
				"# manage only their own keys):\n%s\n\n"+
				"# Deny everything not authenticated with MFA (attach to every user whose keys broker holds):\n%s\n", perms, mfa)
			return nil
		},
	}
}
