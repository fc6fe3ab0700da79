package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/urfave/cli/v2"
)

// The key lifecycle commands (keys, rotate, revoke) call IAM with the
// profile's MFA session: one code per command at most, none while a cached
// session lasts.

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:      "keys",
		Usage:     "list the access keys of a profile's IAM user; activate, deactivate or delete one",
		ArgsUsage: "PROFILE",
		Description: "Lists every access key of the IAM user owning the profile's stored key: status, creation\n" +
			"date, age, when, where and with which service it was last used, and which one the keychain\n" +
			"holds. Warns about active keys older than --max-age days (default: the profile's\n" +
			"broker_key_max_age, else 90).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for programs"},
			&cli.StringFlag{Name: "max-age", Usage: "warn about keys older than `DAYS`"},
			mfaTokenFlag,
		},
		Subcommands: []*cli.Command{
			keyChangeCommand(broker.ActionActivate, "make an inactive key work again"),
			keyChangeCommand(broker.ActionDeactivate, "make a key stop working (it can be activated again)"),
			keyChangeCommand(broker.ActionDelete, "delete an inactive key for good"),
		},
		BashComplete: completeProfiles,
		Action:       runKeys,
	}
}

func runKeys(c *cli.Context) error {
	name, err := profileArg(c)
	if err != nil {
		return err
	}
	maxAge := 0
	if v := c.String("max-age"); v != "" {
		if maxAge, err = broker.ParseMaxAge(v); err != nil {
			return usageError{fmt.Errorf("--max-age: %w", err)}
		}
	}
	b, err := newBroker(c)
	if err != nil {
		return err
	}
	if maxAge == 0 {
		if maxAge, err = b.MaxKeyAge(name); err != nil {
			return err
		}
	}
	ctx, stop := signalContext(c)
	defer stop()
	l, err := b.Lifecycle(ctx, name)
	if err != nil {
		return err
	}
	list, err := l.Keys(ctx, maxAge)
	if err != nil {
		return err
	}
	for _, k := range list.Keys {
		if !k.OverMaxAge || k.Status != broker.StatusActive {
			continue
		}
		advice := fmt.Sprintf("rotate it with `broker rotate %s`", list.Profile)
		if !k.InKeychain {
			advice = "it is not the keychain's: replace it where it is used, or deactivate it"
		}
		fmt.Fprintf(c.App.ErrWriter, "warning: access key %s is %d days old, over the %d-day limit: %s\n",
			k.ID, k.AgeDays, list.MaxAgeDays, advice)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	fmt.Fprintf(c.App.ErrWriter, "Access keys of IAM user %s (account %s), profile %q:\n", list.User, list.Account, list.Profile)
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KEY ID\tSTATUS\tCREATED\tAGE\tLAST USED\tSERVICE\tREGION\tKEYCHAIN")
	for _, k := range list.Keys {
		used, service, region := "never", "-", "-"
		if k.LastUsed != nil {
			used = k.LastUsed.Format(time.DateOnly)
		}
		if k.LastService != "" {
			service = k.LastService
		}
		if k.LastRegion != "" {
			region = k.LastRegion
		}
		age := fmt.Sprintf("%dd", k.AgeDays)
		if k.OverMaxAge {
			age += " (old)"
		}
		held := "-"
		if k.InKeychain {
			held = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Status, k.Created.Format(time.DateOnly), age, used, service, region, held)
	}
	return w.Flush()
}

func keyChangeCommand(action broker.KeyAction, usage string) *cli.Command {
	// --yes for all three, as the README shows it: activating asks nothing.
	flags := []cli.Flag{mfaTokenFlag, &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"}}
	if action != broker.ActionActivate {
		flags = append(flags,
			&cli.BoolFlag{Name: "force", Usage: "also when it is the key the keychain holds for the profile"},
		)
	}
	return &cli.Command{
		Name:         string(action),
		Usage:        usage,
		ArgsUsage:    "PROFILE KEY_ID",
		Flags:        flags,
		BashComplete: completeProfiles,
		Action:       func(c *cli.Context) error { return runKeyChange(c, action) },
	}
}

func runKeyChange(c *cli.Context, action broker.KeyAction) error {
	if c.NArg() != 2 {
		return usageError{fmt.Errorf("keys %s needs PROFILE and KEY_ID", action)}
	}
	name, err := checkProfileName(c.Args().Get(0))
	if err != nil {
		return err
	}
	id := c.Args().Get(1)
	if err := broker.ValidateKeyID(id); err != nil {
		return usageError{err}
	}
	yes, force := c.Bool("yes"), c.Bool("force")
	if action != broker.ActionActivate {
		// Fail before asking for an MFA code if no one could confirm.
		if err := canConfirm(yes); err != nil {
			return err
		}
	}
	b, err := newBroker(c)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	l, err := b.Lifecycle(ctx, name)
	if err != nil {
		return err
	}
	k, err := l.CheckKeyChange(ctx, action, id, force)
	if err != nil {
		return keyChangeHint(err, name, id)
	}
	if action != broker.ActionActivate {
		what := ""
		if k.InKeychain {
			what = fmt.Sprintf(" It is the key of profile %q, which stops working.", l.Profile)
		}
		question := fmt.Sprintf("%s access key %s (%s, created %s) of IAM user %s?%s",
			capitalize(string(action)), id, k.Status, k.Created.Format(time.DateOnly), l.User.UserName, what)
		if err := confirmed(yes, question); err != nil {
			return err
		}
	}
	ch, err := l.ChangeKey(ctx, action, id, force)
	if err != nil {
		return keyChangeHint(err, name, id)
	}
	done := map[broker.KeyAction]string{broker.ActionActivate: "Activated", broker.ActionDeactivate: "Deactivated", broker.ActionDelete: "Deleted"}
	fmt.Fprintf(c.App.ErrWriter, "%s access key %s of IAM user %s.\n", done[action], id, l.User.UserName)
	if ch.Sessions > 0 {
		fmt.Fprintf(c.App.ErrWriter, "Dropped %d cached session(s) minted from it; sessions already issued stay valid until they expire.\n", ch.Sessions)
	}
	if ch.RemovedFromVault {
		fmt.Fprintf(c.App.ErrWriter, "Removed it from the keychain: profile %q has no key now (store one with `broker add %s`).\n", l.Profile, l.Profile)
	}
	return nil
}

// keyChangeHint says what to do instead of a refused change.
func keyChangeHint(err error, profile, id string) error {
	switch {
	case errors.Is(err, broker.ErrKeyActive):
		return withHint(err, "deactivate it first (`broker keys deactivate %s %s`), check that nothing breaks, then delete it", profile, id)
	case errors.Is(err, broker.ErrKeyInUse):
		return withHint(err, "`broker rotate %s` replaces it without downtime; pass --force to go ahead anyway (the profile then has no working key)", profile)
	case errors.Is(err, broker.ErrKeyNotUsers):
		return withHint(err, "`broker keys %s` lists the user's keys", profile)
	}
	return err
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
