package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/urfave/cli/v2"
)

func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "deactivate a profile's access key at once, as when it is exposed",
		ArgsUsage: "PROFILE",
		Description: "Deactivates the profile's key in IAM and drops every session cached from it, so broker\n" +
			"stops handing them out. When the IAM user has a free key slot, a replacement is created,\n" +
			"checked and stored first, so the profile keeps working. The revoked key stays inactive\n" +
			"(not deleted) so that what it did can be looked up; broker prints how.\n" +
			"--key KEY_ID revokes another key of the account instead (found by `audit`, say): its owner is\n" +
			"looked up and the key deactivated at once. --sessions also puts an inline policy on the key's\n" +
			"IAM user denying every session issued before now (" + lifecycle.RevokePolicyName + "), so whoever took\n" +
			"the key loses the sessions they made with it; remove it later with\n" +
			"  aws iam delete-user-policy --user-name USER --policy-name " + lifecycle.RevokePolicyName,
		Flags: []cli.Flag{
			yesFlag,
			&cli.StringFlag{Name: "key", Usage: "revoke access key `KEY_ID` of the account, not the profile's own"},
			&cli.BoolFlag{Name: "sessions", Usage: "also deny the sessions issued from the user's keys before now"},
			mfaTokenFlag,
		},
		BashComplete: completeProfiles,
		Action:       runRevoke,
	}
}

func runRevoke(c *cli.Context) error {
	name, err := profileArg(c)
	if err != nil {
		return err
	}
	b, err := newManager(c)
	if err != nil {
		return err
	}
	other := c.String("key")
	if other != "" {
		if err := lifecycle.ValidateKeyID(other); err != nil {
			return usageError{fmt.Errorf("--key: %w", err)}
		}
	}
	root, key, err := storedKey(b.Broker, name)
	if err != nil {
		return err
	}
	question := fmt.Sprintf("Deactivate the access key %s of profile %q now? (A replacement is made first if the IAM user has a free key slot.)",
		broker.MaskKeyID(key.AccessKeyID), root)
	if other != "" && other != key.AccessKeyID {
		question = fmt.Sprintf("Deactivate the access key %s of this account now?", other)
	}
	if c.Bool("sessions") {
		question += " And deny every session its IAM user was issued before now?"
	}
	if err := confirmed(c.Bool("yes"), question); err != nil {
		return err
	}
	before := latestSession(b.Broker, key.AccessKeyID)
	ctx, stop := signalContext(c)
	defer stop()
	res, err := b.Revoke(ctx, name, lifecycle.RevokeOptions{KeyID: other, Sessions: c.Bool("sessions")})
	printInterrupted(c.App.ErrWriter, res.Resumed, res.Orphan)
	if errors.Is(err, lifecycle.ErrNoOwner) {
		return withHint(err, "`broker keys find %s %s` says which account it belongs to", name, other)
	}
	if err != nil {
		if res.NewKeyID != "" {
			return withHint(err, "run `broker revoke %s` again to finish: the keychain already holds the replacement", name)
		}
		return err
	}
	w := c.App.ErrWriter
	fmt.Fprintf(w, "Deactivated access key %s of IAM user %s.\n", broker.MaskKeyID(res.KeyID), res.User)
	if res.NewKeyID != "" {
		fmt.Fprintf(w, "Profile %q now uses a new key %s, checked and in the keychain.\n", res.Profile, broker.MaskKeyID(res.NewKeyID))
	}
	if len(res.AlsoSwitched) > 0 {
		fmt.Fprintf(w, "%s held the same key: the keychain holds the new key for %s too.\n", capitalize(lifecycle.ProfileList(res.AlsoSwitched)), itOrThem(res.AlsoSwitched))
	}
	if len(res.StillStored) > 0 {
		fmt.Fprintf(w, "warning: the keychain still holds the revoked key for %s, which no longer works: store a working key there with `broker add`.\n", lifecycle.ProfileList(res.StillStored))
	}
	fmt.Fprintf(w, "Dropped %d cached session(s) minted from it: broker no longer hands them out.\n", res.Sessions)
	if d := res.Denied; d != nil {
		fmt.Fprintf(w, "Put the inline policy %s on IAM user %s: every session issued to the user before %s is denied\n"+
			"(allow AWS a few minutes). Sessions issued later, broker's included, are not affected. Remove it later with\n"+
			"  aws iam delete-user-policy --user-name %s --policy-name %s\n",
			d.Policy, d.User, d.Before.Format(time.RFC3339), d.User, d.Policy)
	}
	if res.Other {
		fmt.Fprintf(w, "\nWhat remains to do:\n  - See what the key did (CloudTrail event history covers 90 days; run it in each region used%s):\n"+
			"    aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=%s\n"+
			"  - Replace it where it is used with a new key, then delete it: broker keys delete --yes %s %s\n",
			lastUsedNote(res), res.KeyID, res.Profile, res.KeyID)
		return nil
	}

	fmt.Fprintln(w, "\nWhat remains to do:")
	own := res.LatestExpiry.After(before) // revoke minted the MFA session that signed its IAM calls
	switch d := res.Denied; {
	case d != nil:
		fmt.Fprintf(w, "  - Sessions already issued from the key are denied by the policy %s (issued before %s),\n"+
			"    once AWS applies it; deactivating the key alone would not have ended them. When they have all\n"+
			"    expired (36 hours at most), remove the policy with the command above.\n", d.Policy, d.Before.Format(time.RFC3339))
	case !before.IsZero():
		fmt.Fprintf(w, "  - Sessions already issued from the key stay valid until they expire; the last one broker had cached\n"+
			"    expires at %s. Deactivating a key does not end them: `broker revoke --sessions %s` denies them.\n",
			before.UTC().Format(time.RFC3339), res.Profile)
	default:
		fmt.Fprintf(w, "  - Sessions already issued from the key stay valid until they expire (up to 36 hours);\n"+
			"    broker had none cached. Deactivating a key does not end them: `broker revoke --sessions %s` denies them.\n", res.Profile)
	}
	if own && res.Denied == nil {
		fmt.Fprintf(w, "  - To sign these IAM calls broker minted an MFA session from the key, valid until %s; it never left\n"+
			"    broker and was dropped from the cache with the others.\n", res.LatestExpiry.UTC().Format(time.RFC3339))
	}
	switch {
	case res.NewKeyID != "":
		fmt.Fprintf(w, "  - When you are done investigating, delete the revoked key: broker keys delete %s %s\n", res.Profile, res.KeyID)
	case res.NoSlot:
		fmt.Fprintf(w, "  - Profile %q has NO working key now: IAM user %s already had two keys, so no replacement was made.\n"+
			"    Delete the key you do not need (`broker keys` needs a working key, so use the IAM console),\n"+
			"    create a new access key there and store it with `broker add %s`; then `broker rotate` works again.\n",
			res.Profile, res.User, res.Profile)
	default:
		fmt.Fprintf(w, "  - Profile %q has NO working key now: making a replacement failed (%s).\n"+
			"    Create a new access key in the IAM console and store it with `broker add %s`.\n",
			res.Profile, oneLine(fmt.Sprint(res.ReplaceErr)), res.Profile)
	}
	since := res.KeyCreated
	if since.IsZero() {
		since = time.Now().AddDate(0, 0, -90)
	}
	fmt.Fprintf(w, "  - See what the key did (CloudTrail event history covers 90 days; run it in each region used%s):\n"+
		"    aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=%s --start-time %s\n",
		lastUsedNote(res), res.KeyID, since.UTC().Format(time.RFC3339))
	return nil
}

func lastUsedNote(res lifecycle.RevokeResult) string {
	if res.LastUsed == nil {
		return ""
	}
	note := ", last used " + res.LastUsed.UTC().Format(time.RFC3339)
	if res.LastRegion != "" {
		note += " in " + res.LastRegion
	}
	return note
}

// latestSession is when the last unexpired session cached from key id
// expires, zero if there is none (or the cache cannot be read: revoke goes
// on regardless).
func latestSession(b *broker.Broker, id string) time.Time {
	latest, now := time.Time{}, time.Now()
	sessions, _ := b.Vault.Sessions()
	for _, s := range sessions {
		if s.SourceKeyID == id && s.Expiration.After(latest) && s.Expiration.After(now) {
			latest = s.Expiration
		}
	}
	return latest
}
