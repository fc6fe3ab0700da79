package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/agent/wire"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/urfave/cli/v2"
)

func setupCommand() *cli.Command {
	return &cli.Command{
		Name:      "setup",
		Usage:     "make `aws --profile PROFILE` (and every SDK) get credentials from broker",
		ArgsUsage: "PROFILE",
		Description: "Writes `credential_process = /path/to/broker-credential-process PROFILE` (or, without that\n" +
			"client beside broker, `/path/to/broker export PROFILE`) into the profile in\n" +
			"~/.aws/config, and renames role_arn, source_profile, external_id, role_session_name and\n" +
			"duration_seconds to broker_role_arn etc., so the AWS CLI neither assumes the role itself\n" +
			"nor caches its credentials in plaintext under ~/.aws/cli/cache. Every other line stays.\n\n" +
			"The AWS CLI needs a region: when the profile has none, broker asks for one on the terminal\n" +
			"(default $AWS_REGION, else [default]'s region, else us-east-1), or without a terminal writes\n" +
			"that default and says so.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace a credential_process that is not broker's"},
			&cli.StringFlag{Name: "region", Usage: "write `REGION` into the profile (asked for when the profile has none)"},
		},
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			name, err := newProfileArg(c)
			if err != nil {
				return err
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if !cfg.Has(name) {
				return withHint(fmt.Errorf("profile %q: %w", name, awsconfig.ErrProfileNotFound),
					"add [profile %s] to %s, or store a key first with `broker add %s`", name, cfg.Path(), name)
			}
			exe, err := credentialProcessPath()
			if err != nil {
				return err
			}
			region, asked, err := setupRegion(c, cfg, name)
			if err != nil {
				return err
			}
			changed, err := awsconfig.Setup(cfg.Path(), name, exe, c.Bool("force"))
			if err != nil {
				return err
			}
			w := c.App.ErrWriter
			if changed {
				fmt.Fprintf(w, "Profile %q in %s now gets its credentials from %s.\n", name, cfg.Path(), exe)
			} else {
				fmt.Fprintf(w, "Profile %q is already set up.\n", name)
			}
			if region != "" {
				if _, err := awsconfig.SetValue(cfg.Path(), name, "region", region); err != nil {
					return fmt.Errorf("writing the region into %s: %w", cfg.Path(), err)
				}
				if asked {
					fmt.Fprintf(w, "Set region = %s for profile %q.\n", region, name)
				} else {
					fmt.Fprintf(w, "Set region = %s for profile %q: the AWS CLI needs one and the profile had none (change it in %s, or with `broker setup %s --region REGION`).\n",
						region, name, cfg.Path(), name)
				}
			}
			warnNoKey(c, name)
			return nil
		},
	}
}

// credentialProcessPath is what `broker setup` writes into
// credential_process: the small client installed beside broker
// (broker-credential-process, which asks the agent and runs `broker export`
// when the agent cannot answer), or else broker itself.
func credentialProcessPath() (string, error) {
	exe, err := brokerPath()
	if err != nil {
		return "", err
	}
	if !wire.Supported {
		return exe, nil
	}
	client := filepath.Join(filepath.Dir(exe), awsconfig.ClientName)
	if fi, err := os.Stat(client); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return client, nil
	}
	return exe, nil
}

// brokerPath is the absolute path of this binary, links resolved.
func brokerPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding broker's own path: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	if !filepath.IsAbs(exe) {
		return "", errors.New("broker's own path is not absolute")
	}
	return exe, nil
}

// setupRegion is the region to write into the profile, "" for none: the
// --region flag, else, when the profile has no region, one asked for on
// the terminal, else the default (asked false).
func setupRegion(c *cli.Context, cfg *awsconfig.File, name string) (region string, asked bool, err error) {
	if r := c.String("region"); r != "" {
		if !validRegion(r) {
			return "", false, usageError{fmt.Errorf("--region %q is not a region name like eu-west-1", printableArg(r))}
		}
		return r, true, nil
	}
	p, err := cfg.Profile(name)
	if err != nil || p.Region != "" {
		return "", false, err
	}
	// The region broker itself would use (see the README's Region), which
	// the AWS CLI would not: it reads only the profile's own.
	var fromDefault string
	if d, err := cfg.Profile("default"); err == nil {
		fromDefault = d.Region
	}
	def := firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), fromDefault, "us-east-1")
	t, err := openTerminal()
	if err != nil {
		return def, false, nil
	}
	defer t.Close()
	for range 3 {
		answer, err := t.line(fmt.Sprintf("Region for profile %q (the AWS CLI needs one) [%s]: ", name, def))
		if err != nil {
			return "", false, err
		}
		if answer == "" {
			return def, true, nil
		}
		if validRegion(answer) {
			return answer, true, nil
		}
		t.printf("That is not a region name like eu-west-1.\n")
	}
	return "", false, usageError{errors.New("no region name given in 3 tries")}
}

// validRegion: "us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1".
func validRegion(r string) bool {
	parts := strings.Split(r, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		for _, ch := range p {
			digit := ch >= '0' && ch <= '9'
			if i == len(parts)-1 && !digit || i < len(parts)-1 && !(ch >= 'a' && ch <= 'z') {
				return false
			}
		}
	}
	return true
}

// warnNoKey: a profile set up without a key to sign with fails at the
// first `aws --profile` call; say so now, and how to store one.
func warnNoKey(c *cli.Context, name string) {
	b, err := newBroker(c)
	if err != nil {
		return // setup needs no keychain; `broker list` shows what is wrong
	}
	var noKey *broker.NoKeyError
	if _, _, err := storedKey(b, name); errors.As(err, &noKey) {
		whose := fmt.Sprintf("profile %q has", name)
		if noKey.Profile != name {
			whose = fmt.Sprintf("profile %q takes its key from profile %q, which has", name, noKey.Profile)
		}
		fmt.Fprintf(c.App.ErrWriter, "warning: %s no access key in the keychain: `aws --profile %s` fails until one is stored\n", whose, name)
		fmt.Fprintf(c.App.ErrWriter, "hint: store it with `broker add %s`\n", noKey.Profile)
	}
}
