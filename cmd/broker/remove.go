package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/urfave/cli/v2"
)

func removeCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Aliases:   []string{"rm"},
		Usage:     "delete a profile's key and its cached sessions from the keychain",
		ArgsUsage: "PROFILE",
		Description: "The AWS config is left as it is. The key stays valid in IAM: to deactivate it, run\n" +
			"`broker keys deactivate --force PROFILE KEY_ID` (or `broker revoke PROFILE` if it is exposed)\n" +
			"before removing it, while broker can still sign with it.",
		Flags:        []cli.Flag{yesFlag},
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
			k, stored, err := b.StoredKey(name)
			var unreadable *broker.KeyStoredError
			switch {
			case errors.As(err, &unreadable):
				question := fmt.Sprintf("Delete the item for the key of profile %q, which broker cannot read (%s)?", name, unreadable.Err)
				if err := confirmed(c.Bool("yes"), question); err != nil {
					return err
				}
				if _, err := b.RemoveKey(name); err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "Removed the item for the key of profile %q.\n", name)
				return nil
			case err != nil:
				return err
			case !stored:
				return &broker.NoKeyError{Profile: name}
			}
			masked := broker.MaskKeyID(k.AccessKeyID)
			others, err := b.KeyProfiles(k.AccessKeyID)
			if err != nil {
				return err
			}
			others = slices.DeleteFunc(others, func(n string) bool { return n == name })
			if len(others) > 0 {
				// Another profile still signs with the key: no advice to deactivate it.
				question := fmt.Sprintf("%s holds the same key %s and keeps using it.\nDelete the access key %s of profile %q and its cached sessions?",
					capitalize(lifecycle.ProfileList(others)), masked, masked, name)
				if err := confirmed(c.Bool("yes"), question); err != nil {
					return err
				}
				n, err := b.RemoveKey(name)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "Removed the key %s of profile %q and %d cached session(s).\n", masked, name, n)
				fmt.Fprintf(c.App.ErrWriter, "%s still holds the key %s, which stays active in IAM for %s.\n",
					capitalize(lifecycle.ProfileList(others)), masked, itOrThem(others))
				return nil
			}
			// Asked on the terminal, before anything changes: deactivating
			// through broker needs the key in the keychain.
			question := fmt.Sprintf("The key %s stays valid in IAM after this. To deactivate it, answer no and run\n"+
				"`broker keys deactivate --force %s %s` first (or `broker revoke %s` if it is exposed).\n"+
				"Delete the access key %s of profile %q and its cached sessions?",
				masked, name, k.AccessKeyID, name, masked, name)
			if err := confirmed(c.Bool("yes"), question); err != nil {
				return err
			}
			n, err := b.RemoveKey(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "Removed the key %s of profile %q and %d cached session(s).\n", masked, name, n)
			fmt.Fprintf(c.App.ErrWriter, "The key %s is still valid in IAM unless you deactivated it: deactivate it with\n"+
				"`broker keys deactivate OTHER_PROFILE %s`, OTHER_PROFILE holding another key of the same IAM user, or in the IAM console.\n",
				masked, k.AccessKeyID)
			return nil
		},
	}
}
