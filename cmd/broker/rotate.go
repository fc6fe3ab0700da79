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
		Description: "First checks where the old key was last used: by anything but broker (a service other\n" +
			"than STS, or STS in a region broker does not use) stops the rotation before any change,\n" +
			"unless --force. Then creates a new access key for the profile's IAM user, keeps it in the\n" +
			"keychain, checks that it works, makes it the profile's key, drops the sessions cached from\n" +
			"the old key, and deactivates the old key but keeps it (`broker keys activate` brings it back),\n" +
			"moving its description to the new key. The next rotate deletes it first. One MFA code\n" +
			"serves the whole rotation. IAM allows two keys per user: a user whose other key is active,\n" +
			"or inactive but not left by a rotation, is refused and nothing changes (--delete-inactive\n" +
			"removes an inactive spare first). Interrupted, the next `broker rotate` finishes or undoes it.",
		Flags: []cli.Flag{
			yesFlag,
			&cli.BoolFlag{Name: "keep-old", Hidden: true, Usage: "the default now: the old key is always kept, inactive"},
			&cli.BoolFlag{Name: "delete-inactive", Usage: "with two keys, delete the other one if it is inactive"},
			&cli.BoolFlag{Name: "force", Usage: "rotate even if something other than broker used the old key last, or that cannot be seen"},
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
	question := fmt.Sprintf("Replace the access key %s of profile %q with a new one and leave the old one inactive?", broker.MaskKeyID(key.AccessKeyID), root)
	if err := confirmed(c.Bool("yes"), question); err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	res, err := b.Rotate(ctx, name, lifecycle.RotateOptions{DeleteInactive: c.Bool("delete-inactive"), Force: c.Bool("force"), KeyID: key.AccessKeyID})
	printInterrupted(c.App.ErrWriter, res.Resumed, res.Orphan)
	var limit *lifecycle.KeyLimitError
	if errors.As(err, &limit) {
		return limitHint(limit, name)
	}
	var inUse *lifecycle.UseError
	if errors.As(err, &inUse) {
		return withHint(err, "find what uses the key (%s in %s), move it to broker (`broker setup`) or to a key of its own, then rotate again; --force rotates anyway, and `broker keys activate` brings the old key back if something breaks",
			inUse.Service, orUnknownRegion(inUse.Region))
	}
	var stored *lifecycle.StoredElsewhereError
	if errors.As(err, &stored) {
		return withHint(err, "the key is inactive, so %s does not work: store a working key for it (`broker add --force %s`) or remove it (`broker remove %s`), then rotate again",
			lifecycle.ProfileList(stored.Profiles), stored.Profiles[0], stored.Profiles[0])
	}
	var rotated *broker.KeyRotatedError
	if errors.As(err, &rotated) {
		return withHint(err, "`broker list` shows the key it holds now; run `broker rotate %s` again only if it should be replaced once more", rotated.Profile)
	}
	var elsewhere *lifecycle.RotatingElsewhereError
	if errors.As(err, &elsewhere) {
		return withHint(err, "run `broker rotate %s` to finish or undo it; it replaces the key in every profile that holds it", elsewhere.Profile)
	}
	var unseen *lifecycle.UnseenUseError
	if errors.As(err, &unseen) {
		return unseenHint(unseen, name, key.AccessKeyID)
	}
	if err != nil {
		if res.Resumed != "" || res.OldKeyID != "" {
			return withHint(err, "the keychain still holds a working key; run `broker rotate %s` again to finish or undo the rotation", name)
		}
		return err
	}
	w := c.App.ErrWriter
	switch {
	case res.RotatedOut:
		fmt.Fprintf(w, "Deleted the key %s that the previous rotation had left inactive, to free a slot.\n", broker.MaskKeyID(res.DeletedInactive))
	case res.DeletedInactive != "":
		fmt.Fprintf(w, "Deleted the inactive key %s to free a slot.\n", broker.MaskKeyID(res.DeletedInactive))
	}
	fmt.Fprintf(w, "Rotated the access key of profile %q (IAM user %s): %s is in the keychain and works; %s is replaced.\n",
		res.Profile, res.User, broker.MaskKeyID(res.NewKeyID), broker.MaskKeyID(res.OldKeyID))
	if len(res.AlsoSwitched) > 0 {
		fmt.Fprintf(w, "%s held the same key: the keychain holds the new key for %s too.\n", capitalize(lifecycle.ProfileList(res.AlsoSwitched)), itOrThem(res.AlsoSwitched))
	}
	fmt.Fprintf(w, "Dropped %d cached session(s) of the old key; sessions already issued stay valid until they expire.\n", res.Sessions)
	if res.OldDeleted {
		fmt.Fprintf(w, "Deactivated and deleted the old key %s.\n", broker.MaskKeyID(res.OldKeyID))
		return nil
	}
	if res.Described != "" {
		fmt.Fprintf(w, "Moved the description %q to the new key.\n", res.Described)
	}
	fmt.Fprintf(w, "The old key %s is inactive, not deleted. If something still needs it, reactivate it with\n"+
		"  broker keys activate %s %s\nand move that program to broker. The next `broker rotate` deletes it; so does\n"+
		"  broker keys delete --yes %s %s\n",
		broker.MaskKeyID(res.OldKeyID), res.Profile, res.OldKeyID, res.Profile, res.OldKeyID)
	if res.TagErr != nil {
		fmt.Fprintf(w, "warning: the old key is not marked as left by this rotation (%s): the next rotate needs --delete-inactive\n", oneLine(res.TagErr.Error()))
	}
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

// unseenHint says how to check the key's use when IAM could not show it.
func unseenHint(e *lifecycle.UnseenUseError, profile, id string) error {
	check := fmt.Sprintf("check what used the key lately (the IAM console, or `aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=%s` in each region) and, if only broker uses it, run `broker rotate --force %s`; `broker keys activate` brings the old key back if something breaks", id, profile)
	if e.Denied {
		return withHint(e, "a policy denies GetAccessKeyLastUsed without MFA: exempt it for one's own user as `broker policy` shows, so broker can ask before it uses the key; or %s", check)
	}
	return withHint(e, "%s", check)
}

func orUnknownRegion(r string) string {
	if r == "" {
		return "an unknown region"
	}
	return r
}
