package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func clearCommand() *cli.Command {
	return &cli.Command{
		Name:      "clear",
		Usage:     "drop cached sessions: of one profile, or all",
		ArgsUsage: "[PROFILE]",
		Description: "With PROFILE, drops the sessions that serve it: its role sessions and the MFA session of\n" +
			"the profile holding its key. Without, drops every cached session. Keys stay.",
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			name := ""
			if c.NArg() > 1 {
				return usageError{fmt.Errorf("clear takes at most one PROFILE")}
			}
			if c.NArg() == 1 {
				var err error
				if name, err = checkProfileName(c.Args().First()); err != nil {
					return err
				}
			}
			b, err := newBroker(c)
			if err != nil {
				return err
			}
			n, err := b.ClearSessions(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "Cleared %d cached session(s).\n", n)
			return nil
		},
	}
}
