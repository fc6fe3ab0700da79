package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/internal/userpath"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
	"github.com/urfave/cli/v2"
)

// configPath is $AWS_CONFIG_FILE or ~/.aws/config.
func configPath() (string, error) {
	return awsFilePath("AWS_CONFIG_FILE", "config")
}

// awsFilePath is the file the variable names, with a leading ~ expanded as
// botocore expands it, else ~/.aws/name.
func awsFilePath(variable, name string) (string, error) {
	home, homeErr := os.UserHomeDir()
	if p := os.Getenv(variable); p != "" {
		if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
			if homeErr != nil {
				return "", fmt.Errorf("%s=%s: finding the home folder: %w", variable, p, homeErr)
			}
			return userpath.Expand(p, home), nil
		}
		return p, nil
	}
	if homeErr != nil {
		return "", fmt.Errorf("finding the AWS %s file: %w", name, homeErr)
	}
	return filepath.Join(home, ".aws", name), nil
}

func loadConfig() (*awsconfig.File, error) {
	path, err := configPath()
	if err != nil {
		return nil, err
	}
	return awsconfig.Load(path)
}

// vaultOptions come from the environment: BROKER_BACKEND picks the backend by
// 99designs/keyring's names; the namespace and collection are for people who
// keep more than one set of keys (and for tests). The backend that holds the
// keys is recorded in broker's settings folder (vault.RecordPath), and the
// record decides from then on.
func vaultOptions() vault.Options {
	record, _ := vault.RecordPath() // no config folder: nothing recorded
	return vault.Options{
		Backend:    os.Getenv("BROKER_BACKEND"),
		Service:    os.Getenv("BROKER_KEYRING_SERVICE"),
		Collection: os.Getenv("BROKER_KEYRING_COLLECTION"),
		Record:     record,
	}
}

// newBroker loads the config and opens the keychain.
func newBroker(c *cli.Context) (*broker.Broker, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	v, err := vault.Open(vaultOptions())
	if err != nil {
		return nil, err
	}
	// BROKER_MFA_PROMPT names the source of MFA codes over the profile's
	// broker_mfa_prompt; YKMAN_OATH_CREDENTIAL_NAME, as aws-vault reads it,
	// is the YubiKey OATH account for profiles without broker_yubikey_oath.
	prompter := &mfa.Prompter{
		Token:       c.String("mfa-token"),
		Prompt:      os.Getenv("BROKER_MFA_PROMPT"),
		YubiKeyOATH: os.Getenv("YKMAN_OATH_CREDENTIAL_NAME"),
		Stderr:      c.App.ErrWriter,
	}
	b := &broker.Broker{
		Config:  cfg,
		Vault:   v,
		Clients: broker.DefaultClients(),
		MFA:     prompter,
		Region:  firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
	}
	if c.Bool("debug") {
		logger := log.New(c.App.ErrWriter, "broker: debug: ", log.Ltime|log.Lmicroseconds)
		b.Debugf = logger.Printf
		b.Debugf("config %s, keychain backend %s", cfg.Path(), v.Backend())
		for _, note := range ignoredAWSVaultVars(os.Environ()) {
			b.Debugf("%s", note)
		}
	}
	return b, nil
}

// signalContext ends when broker is interrupted, so waits and prompts stop.
func signalContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return interruptible(c.Context)
}

// profileArg is the command's one PROFILE argument.
func profileArg(c *cli.Context) (string, error) {
	switch {
	case c.NArg() == 0 || c.Args().First() == "":
		return "", usageError{fmt.Errorf("%s needs a PROFILE argument", c.Command.Name)}
	case c.NArg() > 1:
		return "", usageError{fmt.Errorf("%s takes one PROFILE argument, not %d", c.Command.Name, c.NArg())}
	}
	return checkProfileName(c.Args().First())
}

// newProfileArg is the PROFILE argument of a command that names a profile
// to write (setup, add): besides checkProfileName, a name starting with '-'
// is refused, since every command line handing it on (credential_process,
// `broker export NAME`) would read it as a flag.
func newProfileArg(c *cli.Context) (string, error) {
	name, err := profileArg(c)
	if err != nil {
		return "", err
	}
	return checkNewProfileName(name)
}

// checkNewProfileName refuses a name to write that starts with '-'.
func checkNewProfileName(name string) (string, error) {
	if strings.HasPrefix(name, "-") {
		return "", withHint(usageError{fmt.Errorf("invalid profile name %q: a profile name must not start with '-', which command lines read as a flag", name)},
			"choose a name starting with a letter or digit")
	}
	return name, nil
}

// checkProfileName refuses names that cannot stand in a config section header.
func checkProfileName(name string) (string, error) {
	if name == "" || strings.TrimSpace(name) != name || strings.ContainsAny(name, "[]#;=") ||
		strings.ContainsFunc(name, unicode.IsControl) {
		return "", usageError{fmt.Errorf("invalid profile name %q", name)}
	}
	return name, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// yesFlag skips the confirmation of a command that changes keys or the
// keychain (confirmed).
var yesFlag = &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"}

var mfaTokenFlag = &cli.StringFlag{
	Name:  "mfa-token",
	Usage: "the current `CODE` from your MFA device (otherwise mfa_process, ykman, a prompt on the terminal or a dialog)",
}

// completeProfiles offers the config's profile names to shell completion.
func completeProfiles(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	cfg, err := loadConfig()
	if err != nil {
		return
	}
	for _, name := range cfg.ProfileNames() {
		fmt.Fprintln(c.App.Writer, name)
	}
}

// awsVaultInstead says what to use in broker for aws-vault's variables that
// broker does not read, so that none is ignored silently: `broker list`
// names each one that is set, and so does --debug.
var awsVaultInstead = map[string]string{
	"AWS_VAULT_BACKEND":          "BROKER_BACKEND",
	"AWS_VAULT_PROMPT":           "BROKER_MFA_PROMPT",
	"AWS_VAULT_KEYCHAIN_NAME":    "nothing: broker uses the default (login) keychain",
	"AWS_VAULT_FILE_DIR":         "a keychain: broker refuses the file backend",
	"AWS_VAULT_FILE_PASSPHRASE":  "a keychain: broker refuses the file backend",
	"AWS_VAULT_PARALLEL_SAFE":    "nothing: broker is always safe to run in parallel",
	"AWS_VAULT_STDOUT":           "broker login --stdout",
	"AWS_VAULT_PROFILE_ENV":      "nothing: broker exec always hands on session credentials",
	"AWS_ROLE_ARN":               "role_arn in the profile",
	"AWS_ROLE_SESSION_NAME":      "role_session_name in the profile",
	"AWS_FEDERATION_TOKEN_TTL":   "duration_seconds in the profile (broker login)",
	"AWS_MIN_TTL":                "nothing: broker never hands out a session with less than 15 minutes left",
	"AWS_STS_REGIONAL_ENDPOINTS": "nothing: broker calls the region's own STS endpoint",
}

// ignoredAWSVaultVars are the notes for the aws-vault variables set in
// environ that broker does not read, sorted.
func ignoredAWSVaultVars(environ []string) []string {
	var notes []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if value == "" || name == awsVaultVar {
			continue
		}
		instead, ok := awsVaultInstead[name]
		if !ok && strings.HasPrefix(name, "AWS_VAULT_") {
			instead, ok = "nothing: broker has no such setting", true
		}
		if ok {
			notes = append(notes, fmt.Sprintf("%s is aws-vault's and broker ignores it; use %s", name, instead))
		}
	}
	slices.Sort(notes)
	return notes
}

// debugLogger logs to stderr with --debug, and is silent otherwise.
func debugLogger(c *cli.Context) func(string, ...any) {
	if !c.Bool("debug") {
		return func(string, ...any) {}
	}
	return log.New(c.App.ErrWriter, "broker: debug: ", log.Ltime|log.Lmicroseconds).Printf
}
