package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/keyscan"
	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/urfave/cli/v2"
)

// audit's exit codes, as grep has them: 1 means "found something", so a
// CI job or pre-commit hook can tell a finding from a failure.
const (
	auditFound  = 1 // a key or secret in a file, or a root user's key stored
	auditFailed = 2 // bad input or an error: one `broker: …` line, nothing on stdout
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:      "audit",
		Usage:     "report stored keys, and find access keys and secrets in files",
		ArgsUsage: "[PATH…]",
		Description: "For every stored key: its age, its status and last use (from IAM, with the profile's MFA\n" +
			"session), and a warning for a key of an account's root user. Then it looks for access key\n" +
			"IDs (AKIA…, ASIA…, ABIA…, ACCA…) and secrets in each PATH (a file or a folder; default\n" +
			"~/.aws/credentials and ~/.aws/config), names the account of each key ID (STS\n" +
			"GetAccessKeyInfo, signed with a stored key) and whether it is yours, says why each matched\n" +
			"and whether git tracks its file. A secret counts near a key ID, after a name such as secret,\n" +
			"password or aws_key, or on the line after one; URL-encoded and base64 forms are decoded.\n" +
			"A PATH that is a symlink is followed; a file named that cannot be read is an error. In\n" +
			"folders it skips .git, node_modules, vendor, symlinks, --exclude globs and binary files\n" +
			"(counted); large files are read in pieces; files git ignores are read too and marked local\n" +
			"only (git still pushes the ones it tracks). AWS's documentation examples (…EXAMPLE…) and\n" +
			"placeholders (AKIAXXXX…) are not counted. Secrets are never shown.\n\n" +
			"Exit status: 0 nothing found, 1 something found (a key or secret in a file, or a stored\n" +
			"root user's key), 2 an error.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for programs"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "skip files and folders matching `GLOB` (.gitignore syntax; repeatable)"},
			&cli.BoolFlag{Name: "no-iam", Usage: "skip IAM status and last use, which need an MFA code (for CI and pre-commit)"},
			&cli.BoolFlag{Name: "offline", Usage: "make no AWS call at all (implies --no-iam; accounts unknown)"},
			&cli.BoolFlag{Name: "show-ids", Usage: "show access key IDs in full (secrets are never shown)"},
			mfaTokenFlag,
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			report(c.App.ErrWriter, usageError{err})
			return exitCode(auditFailed)
		},
		Action: func(c *cli.Context) error {
			err := runAudit(c)
			var code exitCode
			if err == nil || errors.As(err, &code) {
				return err
			}
			report(c.App.ErrWriter, err)
			return exitCode(auditFailed)
		},
	}
}

// auditFinding is a keyscan finding with what broker knows of its owner.
type auditFinding struct {
	keyscan.Finding
	lifecycle.KeyOwner
}

// auditReport is `broker audit --json`.
type auditReport struct {
	Keys     []lifecycle.KeyAudit `json:"keys"`
	Findings []auditFinding       `json:"findings"`
	Skipped  []auditSkip          `json:"skipped"`
	Files    int                  `json:"files_scanned"`
	Binary   int                  `json:"files_binary"` // binary files in folders, not read nor listed in skipped
	Found    int                  `json:"found"`        // what decides the exit status
}

type auditSkip struct {
	Path   string `json:"file"`
	Reason string `json:"reason"`
}

func runAudit(c *cli.Context) error {
	for _, g := range c.StringSlice("exclude") {
		if err := keyscan.CheckGlob(g); err != nil {
			return usageError{err}
		}
	}
	paths, err := auditPaths(c.Args().Slice())
	if err != nil {
		return err
	}
	opt := lifecycle.AuditOptions{Offline: c.Bool("offline"), NoIAM: c.Bool("no-iam") || c.Bool("offline")}
	stderr := c.App.ErrWriter

	rep := auditReport{Keys: []lifecycle.KeyAudit{}, Findings: []auditFinding{}, Skipped: []auditSkip{}}
	var found []keyscan.Finding
	for _, p := range paths {
		res, err := keyscan.Scan(p, keyscan.Options{Exclude: c.StringSlice("exclude")})
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("cannot read %s: %w", pe.Path, pe.Err)
			if errors.Is(err, fs.ErrPermission) {
				return withHint(err, "audit it as a user who can read it, or leave it out of the PATHs")
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("auditing %s: %w", p, err)
		}
		found = append(found, res.Findings...)
		rep.Files += res.Files
		rep.Binary += res.Binary
		for _, s := range res.Skipped {
			rep.Skipped = append(rep.Skipped, auditSkip{s.Path, s.Reason})
		}
	}

	ctx, stop := signalContext(c)
	defer stop()
	// Without a keychain (a CI runner) the files are still audited.
	b, err := newManager(c)
	if err == nil {
		rep.Keys, err = b.AuditKeys(ctx, opt)
	}
	if err != nil {
		fmt.Fprintf(stderr, "warning: stored keys not audited: %s\n", oneLine(err.Error()))
		b, rep.Keys = nil, []lifecycle.KeyAudit{}
	}
	var ids, secrets []string
	for _, f := range found {
		switch {
		case f.Example: // AWS's documentation examples: nobody's
		case f.Kind == keyscan.Secret:
			secrets = append(secrets, f.Value)
		default:
			ids = append(ids, f.Value)
		}
	}
	owners, secretOwners := map[string]lifecycle.KeyOwner{}, map[string]string{}
	if b != nil {
		owners = b.KeyOwners(ctx, ids, rep.Keys, opt)
		secretOwners = b.SecretProfiles(secrets, rep.Keys)
	}
	for _, f := range found {
		af := auditFinding{Finding: f}
		if f.Kind == keyscan.Secret {
			if p, ok := secretOwners[f.Value]; ok {
				af.Profile, af.Yours = p, true
			}
		} else {
			af.KeyOwner = owners[f.Value]
			if af.Account == "" && af.Problem == "" && !f.Example {
				af.Problem = "no keychain to ask STS with"
			}
			if c.Bool("show-ids") {
				af.Masked = f.Value
			}
		}
		if !f.Example {
			rep.Found++
		}
		rep.Findings = append(rep.Findings, af)
	}
	for _, k := range rep.Keys {
		if k.Root {
			rep.Found++
			fmt.Fprintf(stderr, "warning: profile %q holds an access key of the AWS account's ROOT USER (%s): it can do anything in the account and no policy limits it; use an IAM user's key, and deactivate and delete the root key\n", k.Profile, k.Account)
		}
	}
	if c.Bool("show-ids") && b != nil {
		showStoredIDs(b.Broker, rep.Keys)
	}

	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := writeAudit(c.App.Writer, rep); err != nil {
		return err
	}
	read := fmt.Sprintf("%d file(s) scanned", rep.Files)
	if len(rep.Skipped) > 0 {
		read += fmt.Sprintf(", %d skipped", len(rep.Skipped))
	}
	if rep.Binary > 0 {
		read += fmt.Sprintf(", %d binary file(s) not read", rep.Binary)
	}
	if rep.Found > 0 {
		fmt.Fprintf(stderr, "audit: %d finding(s); %s\n", rep.Found, read)
		return exitCode(auditFound)
	}
	fmt.Fprintf(stderr, "audit: nothing found; %s\n", read)
	return nil
}

// showStoredIDs unmasks the stored keys' IDs (--show-ids).
func showStoredIDs(b *broker.Broker, keys []lifecycle.KeyAudit) {
	for i := range keys {
		if k, err := b.Vault.Key(keys[i].Profile); err == nil {
			keys[i].KeyID = k.AccessKeyID
		}
	}
}

// auditPaths are the PATH arguments, or the AWS credentials and config
// files that exist. A PATH given that does not exist is an error.
func auditPaths(args []string) ([]string, error) {
	for _, p := range args {
		if _, err := os.Stat(p); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", p, errors.Unwrap(err))}
		}
	}
	if len(args) > 0 {
		return args, nil
	}
	var paths []string
	creds, err := credentialsPath()
	if err != nil {
		return nil, err
	}
	config, err := configPath()
	if err != nil {
		return nil, err
	}
	for _, p := range []string{creds, config} {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return paths, nil
}

// credentialsPath is $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.
func credentialsPath() (string, error) {
	return awsFilePath("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

var kindNames = map[keyscan.Kind]string{
	keyscan.LongTermKeyID:  "access key ID",
	keyscan.TemporaryKeyID: "temporary access key ID",
	keyscan.ServiceKeyID:   "service credential key ID",
	keyscan.Secret:         "secret access key",
}

func writeAudit(out io.Writer, rep auditReport) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(rep.Keys) > 0 {
		fmt.Fprintln(w, "PROFILE\tKEY\tACCOUNT\tAGE\tSTATUS\tLAST USED\tNOTE")
		for _, k := range rep.Keys {
			age, status, used := "-", "-", "-"
			if k.AgeDays != nil {
				age = fmt.Sprintf("%dd", *k.AgeDays)
			}
			var notes []string
			if k.Root {
				notes = append(notes, "ROOT USER KEY: replace it with an IAM user's key")
			}
			if k.OverMaxAge() {
				notes = append(notes, fmt.Sprintf("older than %d days: rotate it", k.MaxAgeDays))
			}
			if k.IAM != nil {
				status, used = k.IAM.Status, "never"
				if k.IAM.LastUsed != nil {
					used = k.IAM.LastUsed.Format("2006-01-02")
					if k.IAM.LastService != "" {
						used += " " + k.IAM.LastService
					}
				}
			}
			notes = append(notes, k.Problems...)
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Profile, k.KeyID, orDash(k.Account), age, status, used,
				oneLine(strings.Join(notes, "; ")))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if len(rep.Findings) > 0 {
			fmt.Fprintln(out)
		}
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(out, "%s:%d: %s %s: %s; %s\n", f.Path, f.Line, kindNames[f.Kind], f.Masked, ownerText(f), whyText(f))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(out, "%s: skipped: %s\n", s.Path, s.Reason)
	}
	return nil
}

func ownerText(f auditFinding) string {
	switch {
	case f.Example:
		return "AWS documentation example, not counted"
	case f.Kind == keyscan.Secret && f.Profile != "":
		return fmt.Sprintf("the secret of your stored key for profile %q", f.Profile)
	case f.Kind == keyscan.Secret:
		return "a secret in plain text"
	case f.Profile != "":
		return fmt.Sprintf("account %s, yours: the stored key of profile %q", f.Account, f.Profile)
	case f.Account != "" && f.Yours:
		return fmt.Sprintf("account %s, yours: the account of a stored key", f.Account)
	case f.Account != "":
		return fmt.Sprintf("account %s, not one of your stored keys' accounts", f.Account)
	}
	return "account unknown (" + f.Problem + ")"
}

// whyText is why a finding matched and what git does with its file.
func whyText(f auditFinding) string {
	switch {
	case f.Tracked:
		return f.Reason + "; tracked by git"
	case f.LocalOnly:
		return f.Reason + "; local only: git ignores the file"
	}
	return f.Reason
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
