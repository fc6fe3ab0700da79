package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/urfave/cli/v2"
)

// The key lifecycle commands (keys, rotate, revoke) call IAM with the
// profile's MFA session: one code per command at most, none while a cached
// session lasts.

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:      "keys",
		Usage:     "list access keys (the profile's user's, another user's, or the whole account's); change one",
		ArgsUsage: "PROFILE",
		Description: "Lists every access key of the IAM user owning the profile's stored key: status, creation\n" +
			"date, age, when, where and with which service it was last used, its description, and which\n" +
			"one the keychain holds. --user NAME lists another user's keys; --all lists every key of every\n" +
			"IAM user of the account and the root user's, and exits 1 when a key is flagged (over-max-age,\n" +
			"unused, two-active, root-key), 2 on error. --max-age defaults to the profile's\n" +
			"broker_key_max_age (or [default]'s), else 90; --unused-days to 90.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for programs"},
			&cli.StringFlag{Name: "max-age", Usage: "flag active keys older than `DAYS`"},
			&cli.BoolFlag{Name: "all", Usage: "every key of every IAM user of the account"},
			&cli.StringFlag{Name: "user", Usage: "the keys of IAM user `NAME`"},
			&cli.StringFlag{Name: "unused-days", Usage: "with --all: flag active keys not used for `DAYS`"},
			mfaTokenFlag,
		},
		Subcommands: []*cli.Command{
			changesKeys(keyChangeCommand(lifecycle.ActionActivate, "make an inactive key work again")),
			changesKeys(keyChangeCommand(lifecycle.ActionDeactivate, "make a key stop working (it can be activated again)")),
			changesKeys(keyChangeCommand(lifecycle.ActionDelete, "delete an inactive key for good")),
			keysFindCommand(), keysDescribeCommand(),
		},
		BashComplete: completeProfiles,
		Action:       runKeys,
	}
}

func runKeys(c *cli.Context) error {
	if c.Bool("all") {
		flagged, err := runAccountKeys(c)
		if err != nil {
			return codedError{err, 2}
		}
		if flagged {
			return exitCode(1)
		}
		return nil
	}
	name, err := profileArg(c)
	if err != nil {
		return err
	}
	if c.IsSet("unused-days") {
		return withHint(usageError{errors.New("--unused-days goes with --all: the profile's own listing shows when each key was last used")},
			"run `broker keys %s --all --unused-days %s`", name, printableArg(c.String("unused-days")))
	}
	maxAge, err := maxAgeOf(c, name, nil)
	if err != nil {
		return err
	}
	m, err := newManager(c)
	if err != nil {
		return err
	}
	if maxAge == 0 {
		if maxAge, err = m.MaxKeyAge(name); err != nil {
			return err
		}
	}
	ctx, stop := signalContext(c)
	defer stop()
	open := m.OpenWithOwnUse // the keychain's key's use, before broker's own calls hide it
	if c.String("user") != "" {
		open = m.Open
	}
	l, err := open(ctx, name)
	if err != nil {
		return subcommandTypo(c, name, err)
	}
	user := l.User.UserName
	if u := c.String("user"); u != "" {
		user = u
	}
	list, err := l.KeysOf(ctx, user, maxAge)
	if err != nil {
		return err
	}
	for _, k := range list.Keys {
		if !k.OverMaxAge || k.Status != lifecycle.StatusActive {
			continue
		}
		advice := fmt.Sprintf("rotate it with `broker rotate %s`", list.Profile)
		if !k.InKeychain {
			advice = "it is not the keychain's: replace it where it is used, or deactivate it"
		}
		fmt.Fprintf(c.App.ErrWriter, "warning: access key %s is %d days old, over the %d-day limit: %s\n",
			k.ID, k.AgeDays, list.MaxAgeDays, advice)
	}
	noteUnseen(c.App.ErrWriter, list.Keys)
	if c.Bool("json") {
		return printJSON(c.App.Writer, list)
	}
	fmt.Fprintf(c.App.ErrWriter, "Access keys of IAM user %s (account %s), profile %q:\n", list.User, list.Account, list.Profile)
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KEY ID\tSTATUS\tCREATED\tAGE\tLAST USED\tSERVICE\tREGION\tKEYCHAIN\tDESCRIPTION")
	for _, k := range list.Keys {
		held := "-"
		if k.InKeychain {
			held = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, statusText(k), k.Created.Format(time.DateOnly), ageText(k), usedText(k), held, dash(k.Description))
	}
	return w.Flush()
}

// subcommandTypo turns "profile not found" for `broker keys actvate` into
// the typo it is when the name is near one of keys' subcommands.
func subcommandTypo(c *cli.Context, name string, err error) error {
	if !errors.Is(err, awsconfig.ErrProfileNotFound) {
		return err
	}
	l := &level{name: "broker " + c.Command.Name, cmd: c.Command, subs: c.Command.Subcommands}
	if closest(name, subNames(l)) == "" {
		return err
	}
	return unknownCommand(l, name)
}

// maxAgeOf reads --max-age (0: not given) and, into unused, --unused-days.
func maxAgeOf(c *cli.Context, name string, unused *int) (int, error) {
	maxAge := 0
	var err error
	if v := c.String("max-age"); v != "" {
		if maxAge, err = lifecycle.ParseMaxAge(v); err != nil {
			return 0, usageError{fmt.Errorf("--max-age: %w", err)}
		}
	}
	if unused != nil {
		*unused = lifecycle.DefaultUnusedDays
		if v := c.String("unused-days"); v != "" {
			if *unused, err = lifecycle.ParseMaxAge(v); err != nil {
				return 0, usageError{fmt.Errorf("--unused-days: %w", err)}
			}
		}
	}
	return maxAge, nil
}

// runAccountKeys is `broker keys PROFILE --all`; it says whether a key is flagged.
func runAccountKeys(c *cli.Context) (bool, error) {
	name, err := profileArg(c)
	if err != nil {
		return false, err
	}
	if c.String("user") != "" {
		return false, usageError{errors.New("--all and --user do not go together")}
	}
	var unused int
	maxAge, err := maxAgeOf(c, name, &unused)
	if err != nil {
		return false, err
	}
	b, err := newBroker(c)
	if err != nil {
		return false, err
	}
	m := lifecycle.New(b)
	if maxAge == 0 {
		if maxAge, err = m.MaxKeyAge(name); err != nil {
			return false, err
		}
	}
	ctx, stop := signalContext(c)
	defer stop()
	l, err := m.OpenWithOwnUse(ctx, name) // the keychain's key's use, before broker's own calls hide it
	if err != nil {
		return false, err
	}
	list, err := l.Account(ctx, maxAge, unused)
	if err != nil {
		return false, err
	}
	markKeychainKeys(b, list.Keys)
	stderr := c.App.ErrWriter
	if list.NoReport != "" {
		fmt.Fprintf(stderr, "warning: no credential report (%s): last use asked key by key, and the root user's keys are not checked\n", list.NoReport)
	}
	noteUnseen(stderr, list.Keys)
	counts := map[string]int{}
	for _, k := range list.Keys {
		for _, f := range k.Flags {
			counts[f]++
		}
		if k.Root && k.Status == lifecycle.StatusActive {
			fmt.Fprintf(stderr, "WARNING: the account's ROOT USER has an active access key (created %s, last used %s).\n"+
				"  A root key has full access to the account that no policy can limit. Delete it: sign in as the root\n"+
				"  user, open Security credentials, and delete the access key there.\n",
				k.Created.Format(time.DateOnly), strings.ReplaceAll(usedText(k), "\t", " "))
		}
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, list); err != nil {
			return false, err
		}
	} else if err := printAccount(c.App.Writer, list); err != nil {
		return false, err
	}
	var parts []string
	flagged := 0
	for _, f := range lifecycle.AllFlags {
		parts = append(parts, fmt.Sprintf("%d %s", counts[f], f))
		flagged += counts[f]
	}
	fmt.Fprintf(stderr, "%d access keys of %d IAM users in account %s: %s.\n", len(list.Keys), list.Users, list.Account, strings.Join(parts, ", "))
	return flagged > 0, nil
}

// markKeychainKeys marks every key the keychain holds, under any profile,
// as in the keychain: the account's listing covers every user's keys, not
// only the profile's own. A key that cannot be read is left unmarked.
func markKeychainKeys(b *broker.Broker, keys []lifecycle.AccessKey) {
	names, err := b.Vault.KeyProfiles()
	if err != nil {
		return
	}
	held := map[string]bool{}
	for _, n := range names {
		if k, err := b.Vault.Key(n); err == nil {
			held[k.AccessKeyID] = true
		}
	}
	for i := range keys {
		keys[i].InKeychain = keys[i].InKeychain || keys[i].ID != "" && held[keys[i].ID]
	}
}

func printAccount(out io.Writer, list lifecycle.AccountList) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tKEY ID\tSTATUS\tCREATED\tAGE\tLAST USED\tSERVICE\tREGION\tDESCRIPTION\tFLAGS")
	for _, k := range list.Keys {
		id := k.ID
		if k.Root {
			id = "(root user's key)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.User, id, statusText(k), k.Created.Format(time.DateOnly),
			ageText(k), usedText(k), dash(k.Description), dash(strings.Join(k.Flags, ",")))
	}
	return w.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// noteUnseen says why a key's last use is shown as unknown.
func noteUnseen(w io.Writer, keys []lifecycle.AccessKey) {
	for _, k := range keys {
		if k.UseUnseen != "" {
			fmt.Fprintf(w, "note: where access key %s was last used before this command is unknown: %s.\n", k.ID, k.UseUnseen)
		}
	}
}

// statusText is the key's status, and when rotate left it inactive.
func statusText(k lifecycle.AccessKey) string {
	if k.RotatedOut != nil {
		return fmt.Sprintf("%s (left by rotate on %s)", k.Status, k.RotatedOut.Format(time.DateOnly))
	}
	return k.Status
}

func ageText(k lifecycle.AccessKey) string {
	age := fmt.Sprintf("%dd", k.AgeDays)
	if k.OverMaxAge {
		age += " (old)"
	}
	return age
}

// usedText is the LAST USED, SERVICE and REGION columns.
func usedText(k lifecycle.AccessKey) string {
	if k.UseUnseen != "" {
		return "unknown\t-\t-"
	}
	if k.LastUsed == nil {
		return "never\t-\t-"
	}
	return k.LastUsed.Format(time.DateOnly) + "\t" + dash(k.LastService) + "\t" + dash(k.LastRegion)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newManager is newBroker with the key lifecycle on top.
func newManager(c *cli.Context) (*lifecycle.Manager, error) {
	b, err := newBroker(c)
	if err != nil {
		return nil, err
	}
	return lifecycle.New(b), nil
}
