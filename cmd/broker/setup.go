package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
			"nor caches its credentials in plaintext under ~/.aws/cli/cache. Every other line stays.",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "replace a credential_process that is not broker's"}},
		BashComplete: completeProfiles,
		Action: func(c *cli.Context) error {
			name, err := profileArg(c)
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
			changed, err := awsconfig.Setup(cfg.Path(), name, exe, c.Bool("force"))
			if err != nil {
				return err
			}
			if changed {
				fmt.Fprintf(c.App.ErrWriter, "Profile %q in %s now gets its credentials from %s.\n", name, cfg.Path(), exe)
			} else {
				fmt.Fprintf(c.App.ErrWriter, "Profile %q is already set up.\n", name)
			}
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
