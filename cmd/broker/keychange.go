package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/urfave/cli/v2"
)

var userFlag = &cli.StringFlag{Name: "user", Usage: "the key of IAM user `NAME` (default: found in the account)"}

func keyChangeCommand(action lifecycle.KeyAction, usage string) *cli.Command {
	// --yes for all three, as the README shows it: activating asks nothing.
	flags := []cli.Flag{mfaTokenFlag, userFlag, &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"}}
	if action != lifecycle.ActionActivate {
		flags = append(flags,
			&cli.BoolFlag{Name: "force", Usage: "also when it is the key the keychain holds for the profile"},
		)
	}
	return &cli.Command{
		Name:         string(action),
		Usage:        usage,
		ArgsUsage:    "PROFILE KEY_ID",
		Description:  "Without --user the key's owner is found: the profile's own IAM user first, then the account.",
		Flags:        flags,
		BashComplete: completeProfiles,
		Action:       func(c *cli.Context) error { return runKeyChange(c, action) },
	}
}

// keyArgs reads PROFILE KEY_ID and n-2 more arguments.
func keyArgs(c *cli.Context, n int, what string) (string, string, error) {
	if c.NArg() != n {
		return "", "", usageError{fmt.Errorf("keys %s needs %s", c.Command.Name, what)}
	}
	name, err := checkProfileName(c.Args().Get(0))
	if err != nil {
		return "", "", err
	}
	return name, c.Args().Get(1), nil
}

func runKeyChange(c *cli.Context, action lifecycle.KeyAction) error {
	name, id, err := keyArgs(c, 2, "PROFILE and KEY_ID")
	if err != nil {
		return err
	}
	if err := lifecycle.ValidateKeyID(id); err != nil {
		return usageError{err}
	}
	yes, force := c.Bool("yes"), c.Bool("force")
	if action != lifecycle.ActionActivate {
		// Fail before asking for an MFA code if no one could confirm.
		if err := canConfirm(yes); err != nil {
			return err
		}
	}
	m, err := newManager(c)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	l, err := m.Open(ctx, name)
	if err != nil {
		return err
	}
	k, err := l.CheckKeyChange(ctx, action, id, c.String("user"), force)
	if err != nil {
		return keyChangeHint(err, name, id)
	}
	if action != lifecycle.ActionActivate {
		what := ""
		if k.InKeychain {
			what = fmt.Sprintf(" It is the key of profile %q, which stops working.", l.Profile)
		}
		question := fmt.Sprintf("%s access key %s (%s, created %s) of IAM user %s?%s",
			capitalize(string(action)), id, k.Status, k.Created.Format(time.DateOnly), k.User, what)
		if err := confirmed(yes, question); err != nil {
			return err
		}
	}
	ch, err := l.ChangeKey(ctx, action, id, k.User, force)
	if err != nil {
		return keyChangeHint(err, name, id)
	}
	done := map[lifecycle.KeyAction]string{lifecycle.ActionActivate: "Activated", lifecycle.ActionDeactivate: "Deactivated", lifecycle.ActionDelete: "Deleted"}
	fmt.Fprintf(c.App.ErrWriter, "%s access key %s of IAM user %s.\n", done[action], id, k.User)
	if ch.Sessions > 0 {
		fmt.Fprintf(c.App.ErrWriter, "Dropped %d cached session(s) minted from it; sessions already issued stay valid until they expire.\n", ch.Sessions)
	}
	if ch.RemovedFromVault {
		fmt.Fprintf(c.App.ErrWriter, "Removed it from the keychain: profile %q has no key now (store one with `broker add %s`).\n", l.Profile, l.Profile)
	}
	if len(ch.StillStored) > 0 && action != lifecycle.ActionActivate {
		fmt.Fprintf(c.App.ErrWriter, "warning: the keychain still holds this key for %s, which no longer works: store a working key there with `broker add`.\n", lifecycle.ProfileList(ch.StillStored))
	}
	return nil
}

// keyChangeHint says what to do instead of a refused change.
func keyChangeHint(err error, profile, id string) error {
	switch {
	case errors.Is(err, lifecycle.ErrKeyActive):
		return withHint(err, "deactivate it first (`broker keys deactivate %s %s`), check that nothing breaks, then delete it", profile, id)
	case errors.Is(err, lifecycle.ErrKeyInUse):
		return withHint(err, "`broker rotate %s` replaces it without downtime; pass --force to go ahead anyway (the profile then has no working key)", profile)
	case errors.Is(err, lifecycle.ErrKeyStored):
		var change *lifecycle.KeyChangeError
		if errors.As(err, &change) && len(change.Stored) > 0 {
			other := change.Stored[0]
			return withHint(err, "give profile %q another key first (`broker add --force %s`, or `broker rotate %s`, which replaces the key everywhere it is stored) or remove it (`broker remove %s`); --force goes ahead anyway", other, other, other, other)
		}
		return err
	case errors.Is(err, lifecycle.ErrKeyNotUsers):
		return withHint(err, "`broker keys %s` lists the user's keys (--user NAME another user's)", profile)
	case errors.Is(err, lifecycle.ErrNoOwner):
		return withHint(err, "`broker keys find %s %s` says which account it belongs to", profile, id)
	}
	return err
}

func keysDescribeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "set a key's description, as the console does (\"\" removes it)",
		ArgsUsage: "PROFILE KEY_ID TEXT",
		Description: "Tags the key's IAM user with the access key ID as tag key and TEXT as value, which is what\n" +
			"the IAM console's description is. Every listing shows it; rotate moves it to the new key.",
		Flags:        []cli.Flag{mfaTokenFlag, userFlag},
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			name, id, err := keyArgs(c, 3, "PROFILE, KEY_ID and TEXT")
			if err != nil {
				return err
			}
			text := c.Args().Get(2)
			if err := lifecycle.ValidateKeyID(id); err != nil {
				return usageError{err}
			}
			if err := lifecycle.CheckDescription(text); err != nil {
				return usageError{err}
			}
			m, err := newManager(c)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(c)
			defer stop()
			l, err := m.Open(ctx, name)
			if err != nil {
				return err
			}
			owner, err := l.Describe(ctx, id, c.String("user"), text)
			if err != nil {
				return keyChangeHint(err, name, id)
			}
			if text == "" {
				fmt.Fprintf(c.App.ErrWriter, "Removed the description of access key %s of IAM user %s.\n", id, owner)
			} else {
				fmt.Fprintf(c.App.ErrWriter, "Described access key %s of IAM user %s as %q.\n", id, owner, text)
			}
			return nil
		},
	}
}

func keysFindCommand() *cli.Command {
	return &cli.Command{
		Name:      "find",
		Usage:     "say which account and IAM user an access key ID belongs to",
		ArgsUsage: "PROFILE KEY_ID",
		Description: "Asks STS which account the key belongs to (no MFA code needed); for a long-term key of the\n" +
			"profile's own account, IAM which user owns it, its status, age and last use.",
		Flags:        []cli.Flag{mfaTokenFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON for programs"}},
		BashComplete: completeProfiles,
		Action:       runKeysFind,
	}
}

func runKeysFind(c *cli.Context) error {
	name, id, err := keyArgs(c, 2, "PROFILE and KEY_ID")
	if err != nil {
		return err
	}
	if err := lifecycle.ValidateAnyKeyID(id); err != nil {
		return usageError{err}
	}
	m, err := newManager(c)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	info, err := m.Find(ctx, name, id)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, info)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Access key %s belongs to account %s", id, info.Account)
	if info.ThisAccount {
		fmt.Fprintf(w, ", the account of profile %q.\n", info.Profile)
	} else {
		fmt.Fprintf(w, ", not the account of profile %q: tell that account's owner, who can deactivate it.\n", info.Profile)
	}
	switch {
	case info.Temporary:
		fmt.Fprintf(w, "It is a temporary credential (STS session), not an IAM user's key: it expires by itself (36 hours at most).\n"+
			"CloudTrail in that account shows who used it and which STS call (GetSessionToken, AssumeRole, ...) issued it:\n"+
			"  aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=%s\n"+
			"The issuing event's responseElements name the long-term key or role behind it; `broker revoke --sessions` ends such sessions.\n", id)
	case info.NoOwner:
		fmt.Fprintln(w, "No IAM user of the account has it: it was deleted, or it is the root user's key.")
	case info.Key != nil:
		k := info.Key
		fmt.Fprintf(w, "IAM user %s owns it: %s, created %s (%d days ago), last used %s.\n",
			k.User, statusText(*k), k.Created.Format(time.DateOnly), k.AgeDays, strings.ReplaceAll(usedText(*k), "\t", " "))
		if k.Description != "" {
			fmt.Fprintf(w, "Description: %s\n", k.Description)
		}
		if info.Stored != "" {
			fmt.Fprintf(w, "It is the key the keychain holds for profile %q.\n", info.Stored)
		}
	}
	return nil
}

// canConfirm fails as confirmed would, before anything is asked or called:
// without --yes a confirmation needs a terminal.
func canConfirm(yes bool) error {
	if yes {
		return nil
	}
	t, err := openTerminal()
	if err != nil {
		return withHint(errors.New("this needs confirmation and there is no terminal"), "pass --yes")
	}
	return t.Close()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
