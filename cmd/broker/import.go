package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/broker/credfile"
	"github.com/broker-dev/broker/broker/keyscan"
	"github.com/broker-dev/broker/vault"
	"github.com/urfave/cli/v2"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "move the long-term keys of ~/.aws/credentials into the keychain",
		Description: "Stores each profile's long-term key (aws_access_key_id AKIA… with its secret) from\n" +
			"~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE, or --from FILE) in the keychain, checks\n" +
			"that it reads back, and only then removes those two lines from the file, and the [NAME]\n" +
			"line of a section left with no key. Comments, blank lines, other keys and sections,\n" +
			"temporary credentials (aws_session_token) and the file's mode stay as they were; the file\n" +
			"is replaced atomically and no copy is left. Each imported profile is then set up as\n" +
			"`broker setup` does, with its MFA device as `broker add` offers it.\n" +
			"A profile whose stored key differs is skipped unless --force; one whose stored key is the\n" +
			"same is only removed from the file.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the credentials `FILE` (default $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would move, change nothing"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "force", Usage: "replace a different key already stored for a profile"},
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error { return usageError{err} },
		Action:       runImport,
	}
}

// move is a key that leaves the file.
type move struct {
	entry  credfile.Entry
	stored bool // the keychain holds this very key already
}

func runImport(c *cli.Context) error {
	if c.NArg() != 0 {
		return usageError{errors.New("import takes no arguments: name the file with --from")}
	}
	stderr := c.App.ErrWriter
	path := c.String("from")
	if path == "" {
		p, err := credentialsPath()
		if err != nil {
			return err
		}
		path = p
	}
	f, err := credfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) && !c.IsSet("from") {
		fmt.Fprintf(stderr, "No credentials file at %s: nothing to import.\n", path)
		return nil
	}
	if err != nil {
		return withHint(fmt.Errorf("reading the credentials file: %w", err), "fix the file, or name another with --from FILE")
	}
	b, err := newBroker(c)
	if err != nil {
		return err
	}
	if !c.Bool("yes") && !c.Bool("dry-run") {
		// Refuse before saying anything: a failure is one line.
		t, err := openTerminal()
		if err != nil {
			return confirmed(false, "")
		}
		t.Close()
	}
	moves, err := planImport(c, b, f)
	if err != nil {
		return err
	}
	if len(moves) == 0 {
		fmt.Fprintf(stderr, "No long-term key to import from %s.\n", f.Path)
		return nil
	}
	if c.Bool("dry-run") {
		fmt.Fprintf(stderr, "Dry run: nothing changed.\n")
		return nil
	}
	question := fmt.Sprintf("Move %d key(s) from %s into the %s keychain and remove them from the file?", len(moves), f.Path, b.Vault.Backend())
	if err := confirmed(c.Bool("yes"), question); err != nil {
		return err
	}

	// The keychain first, read back; the file only once every key is there.
	var names []string
	for _, m := range moves {
		if err := storeChecked(b, m); err != nil {
			return withHint(fmt.Errorf("%w: %s was not changed", err, f.Path), "run `broker import` again once the keychain works; keys already stored are recognised")
		}
		names = append(names, m.entry.Profile)
	}
	if err := f.Rewrite(f.Without(names...)); err != nil {
		return withHint(fmt.Errorf("the keys are in the keychain, but %s could not be rewritten: %w", f.Path, err),
			"run `broker import` again: keys already stored are only removed from the file")
	}
	for _, m := range moves {
		fmt.Fprintf(stderr, "Moved access key %s of profile %q into the %s keychain.\n",
			broker.MaskKeyID(m.entry.AccessKeyID), m.entry.Profile, b.Vault.Backend())
	}
	fmt.Fprintf(stderr, "Removed %d key(s) from %s; everything else in it is unchanged.\n", len(moves), f.Path)
	warnLeftovers(c, f.Path, moves)
	return wireImported(c, b, moves)
}

// planImport says, on stderr, what moves and what stays, and why.
func planImport(c *cli.Context, b *broker.Broker, f *credfile.File) ([]move, error) {
	stderr := c.App.ErrWriter
	var moves []move
	for _, e := range f.Entries() {
		where := fmt.Sprintf("%s:%d: profile %q", f.Path, e.Line, e.Profile)
		skip := func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s: %s\n", where, fmt.Sprintf(format, args...))
		}
		if e.Temporary() {
			skip("temporary credentials stay in the file")
			continue
		}
		if e.Problem != "" {
			skip("skipped: %s", e.Problem)
			continue
		}
		if !importableName(e.Profile) {
			skip("skipped: the name cannot be a profile in the AWS config")
			continue
		}
		if err := broker.ValidateKey(e.AccessKeyID, e.SecretAccessKey); err != nil {
			skip("skipped: %v", err)
			continue
		}
		old, err := b.Vault.Key(e.Profile)
		switch {
		case errors.Is(err, vault.ErrNotFound):
			moves = append(moves, move{entry: e})
			skip("key %s moves to the keychain", broker.MaskKeyID(e.AccessKeyID))
		case err != nil:
			return nil, err
		case old.AccessKeyID == e.AccessKeyID && old.SecretAccessKey == e.SecretAccessKey:
			moves = append(moves, move{entry: e, stored: true})
			skip("key %s is in the keychain already: it leaves the file", broker.MaskKeyID(e.AccessKeyID))
		case c.Bool("force"):
			moves = append(moves, move{entry: e})
			skip("key %s replaces the stored key %s (--force)", broker.MaskKeyID(e.AccessKeyID), broker.MaskKeyID(old.AccessKeyID))
		default:
			skip("skipped: the keychain holds another key (%s) for this profile; --force replaces it", broker.MaskKeyID(old.AccessKeyID))
		}
	}
	return moves, nil
}

// importableName: a name `broker setup` can write as [profile NAME].
func importableName(name string) bool {
	if _, err := checkProfileName(name); err != nil {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`'"\`, r) })
}

// storeChecked stores the key and checks that the keychain gives it back.
func storeChecked(b *broker.Broker, m move) error {
	e := m.entry
	if !m.stored {
		if err := b.AddKey(e.Profile, vault.Key{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey}); err != nil {
			return err
		}
	}
	k, err := b.Vault.Key(e.Profile)
	if err != nil {
		return fmt.Errorf("reading back the key of profile %q: %w", e.Profile, err)
	}
	if k.AccessKeyID != e.AccessKeyID || k.SecretAccessKey != e.SecretAccessKey {
		return fmt.Errorf("the keychain gave back another key for profile %q", e.Profile)
	}
	return nil
}

// warnLeftovers: a moved key that is still in the file (a commented-out
// copy, say) is still in plaintext; broker does not edit comments.
func warnLeftovers(c *cli.Context, path string, moves []move) {
	f, err := credfile.Read(path)
	if err != nil {
		return
	}
	moved := map[string]bool{}
	for _, m := range moves {
		moved[m.entry.AccessKeyID], moved[m.entry.SecretAccessKey] = true, true
	}
	for _, fi := range keyscan.Lines(path, f.Data) {
		if moved[fi.Value] {
			fmt.Fprintf(c.App.ErrWriter, "warning: %s:%d still holds a moved key's %s (a comment?): delete that line by hand\n",
				path, fi.Line, kindNames[fi.Kind])
		}
	}
}

// wireImported sets each moved profile up as `broker setup` does and
// offers its MFA device as `broker add` does. The keys have moved by now,
// so a profile that cannot be set up is a warning, and the exit status
// says so at the end.
func wireImported(c *cli.Context, b *broker.Broker, moves []move) error {
	stderr := c.App.ErrWriter
	exe, err := credentialProcessPath()
	if err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	var failed []string
	for _, m := range moves {
		name := m.entry.Profile
		if _, err := awsconfig.Setup(b.Config.Path(), name, exe, false); err != nil {
			fmt.Fprintf(stderr, "warning: profile %q not set up: %s\n", name, oneLine(err.Error()))
			failed = append(failed, name)
			continue
		}
		fmt.Fprintf(stderr, "Profile %q in %s now gets its credentials from broker.\n", name, b.Config.Path())
		cfg, err := loadConfig()
		if err != nil {
			return err
		}
		b.Config = cfg
		if p, err := b.Plan(name); err != nil || p.MFASerial != "" || p.NoMFA {
			continue
		}
		key := vault.Key{AccessKeyID: m.entry.AccessKeyID, SecretAccessKey: m.entry.SecretAccessKey}
		serial, err := chooseMFADevice(ctx, c, b, name, key)
		if err != nil {
			return err
		}
		if serial == "" {
			continue
		}
		if _, err := awsconfig.SetValue(b.Config.Path(), name, "mfa_serial", serial); err != nil {
			return fmt.Errorf("writing mfa_serial into %s: %w", b.Config.Path(), err)
		}
		fmt.Fprintf(stderr, "Set mfa_serial = %s for profile %q in %s.\n", serial, name, b.Config.Path())
	}
	if len(failed) > 0 {
		return withHint(fmt.Errorf("imported, but not set up: %s", strings.Join(failed, ", ")),
			"fix the profile in %s, then run `broker setup PROFILE` (--force replaces another credential_process)", b.Config.Path())
	}
	return nil
}
