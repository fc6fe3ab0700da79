package main

import (
	"errors"
	"fmt"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
	"github.com/urfave/cli/v2"
)

func removeCommand() *cli.Command {
	return &cli.Command{
		Name:         "remove",
		Aliases:      []string{"rm"},
		Usage:        "delete a profile's key and its cached sessions from the keychain",
		ArgsUsage:    "PROFILE",
		Description:  "The AWS config is left as it is. The key stays valid in IAM: deactivate it there if it is exposed.",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"}},
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
			k, err := b.Vault.Key(name)
			if errors.Is(err, vault.ErrNotFound) {
				return &broker.NoKeyError{Profile: name}
			}
			if err != nil {
				return err
			}
			question := fmt.Sprintf("Delete the access key %s of profile %q and its cached sessions?", broker.MaskKeyID(k.AccessKeyID), name)
			if err := confirmed(c.Bool("yes"), question); err != nil {
				return err
			}
			n, err := b.RemoveKey(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "Removed the key of profile %q and %d cached session(s).\n", name, n)
			return nil
		},
	}
}
