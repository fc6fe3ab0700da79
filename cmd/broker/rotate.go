package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/broker-dev/broker/vault"
	"github.com/urfave/cli/v2"
)

func rotateCommand() *cli.Command {
	return &cli.Command{
		Name:      "rotate",
		Usage:     "replace a profile's access key with a new one, without downtime",
		ArgsUsage: "PROFILE",
		Description: "Creates a new access key for the profile's IAM user, keeps it in the keychain, checks\n" +
			"that it works, makes it the profile's key, drops the sessions cached from the old key,\n" +
			"then deactivates and deletes the old key (--keep-old leaves it inactive for a grace period).\n" +
			"One MFA code serves the whole rotation. IAM allows two keys per user: a user who has two\n" +
			"is refused and nothing changes (--delete-inactive removes an inactive spare first).\n" +
			"Interrupted, the next `broker rotate` finishes or undoes the rotation.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "keep-old", Usage: "leave the old key inactive instead of deleting it"},
			&cli.BoolFlag{Name: "delete-inactive", Usage: "with two keys, delete the other one if it is inactive"},
			mfaTokenFlag,
		},
		BashComplete: completeProfiles,
		Action:       runRotate,
	}
}

func runRotate(c *cli.Context) error {
	name, err := profileArg(c)
	if err != nil {
		return err
	}
	b, err := newManager(c)
	if err != nil {
		return err
	}
	root, key, err := storedKey(b.Broker, name)
	if err != nil {
		return err
	}
	end := "delete the old one"
	if c.Bool("keep-old") {
		end = "leave the old one inactive"
	}
	question := fmt.Sprintf("Replace the access key %s of profile %q with a new one and %s?", broker.MaskKeyID(key.AccessKeyID), root, end)
	if err := confirmed(c.Bool("yes"), question); err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	res, err := b.Rotate(ctx, name, lifecycle.RotateOptions{KeepOld: c.Bool("keep-old"), DeleteInactive: c.Bool("delete-inactive")})
	printInterrupted(c.App.ErrWriter, res.Resumed, res.Orphan)
	var limit *lifecycle.KeyLimitError
	if errors.As(err, &limit) {
		return limitHint(limit, name)
	}
	if err != nil {
		if res.Resumed != "" || res.OldKeyID != "" {
			return withHint(err, "the keychain still holds a working key; run `broker rotate %s` again to finish or undo the rotation", name)
		}
		return err
	}
	w := c.App.ErrWriter
	if res.DeletedInactive != "" {
		fmt.Fprintf(w, "Deleted the inactive key %s to free a slot.\n", broker.MaskKeyID(res.DeletedInactive))
	}
	fmt.Fprintf(w, "Rotated the access key of profile %q (IAM user %s): %s is in the keychain and works; %s is replaced.\n",
		res.Profile, res.User, broker.MaskKeyID(res.NewKeyID), broker.MaskKeyID(res.OldKeyID))
	fmt.Fprintf(w, "Dropped %d cached session(s) of the old key; sessions already issued stay valid until they expire.\n", res.Sessions)
	if res.OldDeleted {
		fmt.Fprintf(w, "Deactivated and deleted the old key %s.\n", broker.MaskKeyID(res.OldKeyID))
		return nil
	}
	fmt.Fprintf(w, "The old key %s is inactive, not deleted. If something still needs it, reactivate it with\n"+
		"  broker keys activate %s %s\nand move that program to broker. After the grace period, finish with\n"+
		"  broker keys delete %s %s\n",
		broker.MaskKeyID(res.OldKeyID), res.Profile, res.OldKeyID, res.Profile, res.OldKeyID)
	return nil
}

// storedKey returns the profile that holds name's key, and the key.
func storedKey(b *broker.Broker, name string) (string, vault.Key, error) {
	p, err := b.Plan(name)
	if err != nil {
		return "", vault.Key{}, err
	}
	k, err := b.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return "", vault.Key{}, &broker.NoKeyError{Profile: p.Root}
	}
	return p.Root, k, err
}

// printInterrupted reports an interrupted rotation found and dealt with.
func printInterrupted(w io.Writer, state, orphan string) {
	if orphan != "" {
		fmt.Fprintf(w, "Deleted the key %s that an interrupted rotation had created.\n", broker.MaskKeyID(orphan))
	}
	if state != "" && state != "creating" {
		fmt.Fprintf(w, "Finishing an interrupted rotation (it had reached %q).\n", state)
	}
}

// limitHint explains IAM's two-key limit and which key to remove.
func limitHint(e *lifecycle.KeyLimitError, profile string) error {
	spare, ok := e.Spare()
	if !ok {
		return e
	}
	if spare.Status == lifecycle.StatusInactive {
		return withHint(e, "the other key %s is inactive: pass --delete-inactive to delete it first, or delete it with `broker keys delete %s KEY_ID` (`broker keys %s` lists the IDs)",
			broker.MaskKeyID(spare.ID), profile, profile)
	}
	return withHint(e, "the other key %s is active and not broker's: find what uses it (`broker keys %s` shows when and where it was last used), then `broker keys deactivate` and `broker keys delete` it, and rotate again",
		broker.MaskKeyID(spare.ID), profile)
}
