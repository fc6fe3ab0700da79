package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/broker/credfile"
	"github.com/broker-dev/broker/broker/keyscan"
	"github.com/broker-dev/broker/internal/atomicfile"
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
			"line of a section left with no key. The section's other settings (region, output, …)\n" +
			"move into the profile in ~/.aws/config, where it does not set them already. Comments,\n" +
			"blank lines, other sections, temporary credentials (aws_session_token) and the file's\n" +
			"mode, owner and group stay as they were; the file is replaced atomically under a lock and\n" +
			"no copy is left. Each imported profile is then set up as\n" +
			"`broker setup` does, with its MFA device as `broker add` offers it.\n" +
			"A profile whose stored key differs is skipped unless --force; one whose stored key is the\n" +
			"same is only removed from the file.\n" +
			"Before storing a key, broker asks AWS whose it is (sts:GetCallerIdentity, signed by the key,\n" +
			"a few keys at a time), as `broker add` does, and shows the user and account. A key AWS\n" +
			"rejects, or that it cannot ask about, is not imported and stays in the file as it is; the\n" +
			"others are imported, and the exit status is 1. --no-verify imports without asking.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the credentials `FILE` (default $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would move, change nothing"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "force", Usage: "replace a different key already stored for a profile"},
			&cli.BoolFlag{Name: "no-verify", Usage: "import the keys without asking AWS whether they work"},
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error { return usageError{err} },
		Action:       runImport,
	}
}

// move is a key that leaves the file.
type move struct {
	entry   credfile.Entry
	stored  bool // the keychain holds this very key already
	replace bool // it replaces what the keychain holds (--force)
}

// verifyParallel is how many keys import asks AWS about at a time.
const verifyParallel = 4

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
		if errors.As(err, new(*atomicfile.LinksError)) {
			return fmt.Errorf("reading the credentials file: %w", err) // its own hint
		}
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
	ctx, stop := signalContext(c)
	defer stop()
	moves, refused, err := planImport(ctx, c, b, f)
	if err != nil {
		return err
	}
	if len(moves) == 0 && len(refused) == 0 {
		fmt.Fprintf(stderr, "No long-term key to import from %s.\n", f.Path)
		return nil
	}
	if c.Bool("dry-run") {
		fmt.Fprintf(stderr, "Dry run: nothing changed.\n")
		return refusedError(refused, f.Path, true)
	}
	if len(moves) == 0 {
		return refusedError(refused, f.Path, false)
	}
	question := fmt.Sprintf("Move %d key(s) from %s into the %s keychain and remove them from the file?", len(moves), f.Path, b.Vault.Backend())
	if err := confirmed(c.Bool("yes"), question); err != nil {
		return err
	}

	// The keychain first, read back; then the settings into the config;
	// the file only once every key and setting is somewhere else.
	for _, m := range moves {
		if err := storeChecked(b, m); err != nil {
			return withHint(fmt.Errorf("%w: %s was not changed", err, f.Path), "run `broker import` again once the keychain works; keys already stored are recognised")
		}
	}
	var cuts []credfile.Move
	settings := 0
	for _, m := range moves {
		moved := moveSettings(stderr, f, m.entry.Profile, b.Config.Path())
		settings += len(moved)
		cuts = append(cuts, credfile.Move{Profile: m.entry.Profile, AccessKeyID: m.entry.AccessKeyID,
			SecretAccessKey: m.entry.SecretAccessKey, Settings: moved})
	}
	removed, err := credfile.Remove(f.Path, cuts)
	if err != nil {
		return withHint(fmt.Errorf("the keys are in the keychain, but %s could not be rewritten: %w", f.Path, err),
			"run `broker import` again: keys already stored are only removed from the file")
	}
	var done []move
	for _, m := range moves {
		if !slices.Contains(removed, m.entry.Profile) {
			fmt.Fprintf(stderr, "warning: profile %q: %s changed while broker worked and no longer holds key %s: it stays as it is; the keychain holds that key\n",
				m.entry.Profile, f.Path, broker.MaskKeyID(m.entry.AccessKeyID))
			continue
		}
		done = append(done, m)
		fmt.Fprintf(stderr, "Moved access key %s of profile %q into the %s keychain.\n",
			broker.MaskKeyID(m.entry.AccessKeyID), m.entry.Profile, b.Vault.Backend())
	}
	if settings > 0 {
		fmt.Fprintf(stderr, "Removed %d key(s) and %d setting(s), now in %s, from %s; everything else in it is unchanged.\n", len(done), settings, b.Config.Path(), f.Path)
	} else {
		fmt.Fprintf(stderr, "Removed %d key(s) from %s; everything else in it is unchanged.\n", len(done), f.Path)
	}
	warnLeftovers(c, f.Path, done)
	if err := wireImported(ctx, c, b, done); err != nil {
		if len(refused) > 0 {
			fmt.Fprintf(stderr, "warning: %s\n", refusedError(refused, f.Path, false))
		}
		return err
	}
	return refusedError(refused, f.Path, false)
}

// refusedError says which profiles' keys stay in the file because AWS
// rejected them or could not be asked; nil when there are none.
func refusedError(profiles []string, path string, dryRun bool) error {
	if len(profiles) == 0 {
		return nil
	}
	verb := "not imported"
	if dryRun {
		verb = "would not be imported"
	}
	names := "profile "
	if len(profiles) > 1 {
		names = "profiles "
	}
	for i, p := range profiles {
		if i > 0 {
			names += ", "
		}
		names += strconv.Quote(p)
	}
	return withHint(fmt.Errorf("%d key(s) %s, as AWS rejected them or could not be asked: %s; they stay in %s",
		len(profiles), verb, names, path),
		"fix or delete them there, or run `broker import --no-verify` to import them without asking AWS")
}

// moveSettings writes the non-key settings of a profile's credentials
// section (region, output, …) into its profile in the config, where the
// config does not set them yet, and returns those that may leave the file:
// the ones the config now holds with the same value. A setting the config
// sets otherwise stays in the file, and so does one the config cannot take
// as it is; each is said on stderr, without its value.
func moveSettings(stderr io.Writer, f *credfile.File, profile, config string) map[string]string {
	keys := f.Settings(profile)
	count := map[string]int{}
	for _, k := range keys {
		count[k.Name]++
	}
	var values []awsconfig.Value
	var lines []int
	for _, k := range keys {
		stay := ""
		switch {
		case count[k.Name] > 1:
			stay = "it is set more than once"
		case k.Continued:
			stay = "it has nested lines: copy it into " + config + " by hand"
		case awsconfig.CheckValue(k.Name, k.Value) != nil:
			stay = "it cannot be written into " + config + " as it is"
		}
		if stay != "" {
			fmt.Fprintf(stderr, "%s:%d: profile %q: %s stays in the file: %s\n", f.Path, k.Line, profile, k.Name, stay)
			continue
		}
		values = append(values, awsconfig.Value{Key: k.Name, Value: k.Value})
		lines = append(lines, k.Line)
	}
	if len(values) == 0 {
		return nil
	}
	had, err := awsconfig.AddValues(config, profile, values)
	if err != nil {
		fmt.Fprintf(stderr, "warning: profile %q: its settings stay in %s: %s\n", profile, f.Path, oneLine(err.Error()))
		return nil
	}
	moved := map[string]string{}
	var names []string
	for i, v := range values {
		if h := had[i]; h.Had && h.Value != v.Value {
			fmt.Fprintf(stderr, "%s:%d: profile %q: %s stays in the file: %s sets another %s for the profile, which broker uses and keeps\n",
				f.Path, lines[i], profile, v.Key, config, v.Key)
			continue
		}
		moved[v.Key] = v.Value
		names = append(names, v.Key)
	}
	if len(names) > 0 {
		fmt.Fprintf(stderr, "Moved %s of profile %q into %s.\n", strings.Join(names, ", "), profile, config)
	}
	return moved
}

// planned is what import does with one entry of the file.
type planned struct {
	where    string // FILE:LINE: profile "NAME"
	say      string // why it stays, when it does not move
	move     *move
	action   string // what happens to the moving key, said after its ID
	settings string // the settings that move along, if any
	who      broker.Identity
	refused  error // AWS rejected the key, or could not be asked
}

// planImport decides what moves and what stays, asks AWS about the keys
// that would be stored (unless --no-verify), and says it all, on stderr,
// in the file's order. It returns the keys to move and the profiles whose
// keys AWS refused (or could not be asked about), which stay in the file.
func planImport(ctx context.Context, c *cli.Context, b *broker.Broker, f *credfile.File) ([]move, []string, error) {
	stderr := c.App.ErrWriter
	var plan []*planned
	for _, e := range f.Entries() {
		p := &planned{where: fmt.Sprintf("%s:%d: profile %q", f.Path, e.Line, e.Profile)}
		plan = append(plan, p)
		stay := func(format string, args ...any) { p.say = fmt.Sprintf(format, args...) }
		moves := func(m move, format string, args ...any) { p.move, p.action = &m, fmt.Sprintf(format, args...) }
		if e.Temporary() {
			stay("temporary credentials stay in the file")
			continue
		}
		if e.Problem != "" {
			stay("skipped: %s", e.Problem)
			continue
		}
		if !importableName(e.Profile) {
			stay("skipped: the name cannot be a profile in the AWS config")
			continue
		}
		if err := broker.ValidateKey(e.AccessKeyID, e.SecretAccessKey); err != nil {
			stay("skipped: %v", err)
			continue
		}
		old, stored, err := b.StoredKey(e.Profile)
		var unreadable *broker.KeyStoredError
		switch {
		case errors.As(err, &unreadable) && c.Bool("force"):
			moves(move{entry: e, replace: true}, "replaces an item broker cannot read (--force)")
		case errors.As(err, &unreadable):
			stay("skipped: %s; --force replaces it", unreadable.Err)
		case err != nil:
			return nil, nil, err
		case !stored:
			moves(move{entry: e}, "moves to the keychain")
		case old.AccessKeyID == e.AccessKeyID && old.SecretAccessKey == e.SecretAccessKey:
			moves(move{entry: e, stored: true}, "is in the keychain already: it leaves the file")
		case c.Bool("force"):
			moves(move{entry: e, replace: true}, "replaces the stored key %s (--force)", broker.MaskKeyID(old.AccessKeyID))
		default:
			stay("skipped: the keychain holds another key (%s) for this profile; --force replaces it", broker.MaskKeyID(old.AccessKeyID))
		}
		if ks := f.Settings(e.Profile); len(ks) > 0 && p.move != nil {
			p.settings = fmt.Sprintf("%s move to %s, unless it sets them already", settingNames(ks), b.Config.Path())
		}
	}

	// Every key that would be stored is asked about first, as `broker add`
	// asks; one the keychain holds already only leaves the file.
	var ask []*planned
	var keys []broker.ProfileKey
	for _, p := range plan {
		if p.move != nil && !p.move.stored && !c.Bool("no-verify") {
			e := p.move.entry
			ask = append(ask, p)
			keys = append(keys, broker.ProfileKey{Profile: e.Profile, Key: vault.Key{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey}})
		}
	}
	who, errs := b.Identities(ctx, keys, verifyParallel)
	if err := context.Cause(ctx); err != nil {
		return nil, nil, err // interrupted: nothing is said about the keys
	}
	for i, p := range ask {
		p.who, p.refused = who[i], errs[i]
	}

	var moves []move
	var refused []string
	for _, p := range plan {
		switch {
		case p.move == nil:
			fmt.Fprintf(stderr, "%s: %s\n", p.where, p.say)
		case p.refused != nil:
			refused = append(refused, p.move.entry.Profile)
			fmt.Fprintf(stderr, "%s: not imported: %s; it stays in the file\n", p.where, refusal(p.move.entry.AccessKeyID, p.refused))
		default:
			moves = append(moves, *p.move)
			id := broker.MaskKeyID(p.move.entry.AccessKeyID)
			if p.who.ARN != "" {
				id += " of " + whose(p.who)
			}
			fmt.Fprintf(stderr, "%s: key %s %s\n", p.where, id, p.action)
			if p.settings != "" {
				fmt.Fprintf(stderr, "%s: %s\n", p.where, p.settings)
			}
		}
	}
	return moves, refused, nil
}

// refusal says why a key is not imported, without its secret.
func refusal(keyID string, err error) string {
	if errors.As(err, new(*broker.RejectedKeyError)) {
		return "AWS rejected key " + broker.MaskKeyID(keyID)
	}
	return fmt.Sprintf("could not ask AWS about key %s (%s)", broker.MaskKeyID(keyID), oneLine(err.Error()))
}

// settingNames lists the keys, each once.
func settingNames(ks []credfile.Key) string {
	var names []string
	for _, k := range ks {
		if !slices.Contains(names, k.Name) {
			names = append(names, k.Name)
		}
	}
	return strings.Join(names, ", ")
}

// importableName: a name `broker setup` can write as [profile NAME].
func importableName(name string) bool {
	if _, err := checkProfileName(name); err != nil {
		return false
	}
	if _, err := checkNewProfileName(name); err != nil {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`'"\`, r) })
}

// storeChecked stores the key and checks that the keychain gives it back.
func storeChecked(b *broker.Broker, m move) error {
	e := m.entry
	if !m.stored {
		if _, err := b.AddKey(e.Profile, vault.Key{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey}, m.replace); err != nil {
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
func wireImported(ctx context.Context, c *cli.Context, b *broker.Broker, moves []move) error {
	stderr := c.App.ErrWriter
	exe, err := credentialProcessPath()
	if err != nil {
		return err
	}
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
		// The key has left the file: the hints must not say `broker add`.
		serial, err := chooseMFADevice(ctx, c, b, name, key, true)
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
