package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/broker/lifecycle"
	"github.com/broker-dev/broker/vault"
	"github.com/urfave/cli/v2"
)

func addCommand() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "store a long-term access key in the keychain",
		ArgsUsage: "PROFILE",
		Description: "Reads the access key ID and secret from the terminal (the secret is not echoed), or with\n" +
			"--env from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. The key goes to the keychain only.\n" +
			"Before storing it, broker asks AWS whose key it is (sts:GetCallerIdentity, signed by the key)\n" +
			"and refuses a key AWS rejects. A key already stored for the profile is replaced only with\n" +
			"--force; without it, --mfa-serial ARN sets the profile's mfa_serial and keeps the stored key\n" +
			"(asking for no key; with --env the key must be the stored one). When the profile has no\n" +
			"mfa_serial, broker lists the key's MFA devices and writes the one you choose into the AWS config.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "env", Usage: "read the key from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
			&cli.BoolFlag{Name: "force", Usage: "replace the key (or unreadable item) stored for the profile"},
			&cli.BoolFlag{Name: "no-verify", Usage: "store the key without asking AWS whether it works"},
			&cli.StringFlag{Name: "mfa-serial", Usage: "write this MFA device `ARN` into the profile instead of asking"},
		},
		BashComplete: completeProfiles,
		Action:       runAdd,
	}
}

func runAdd(c *cli.Context) error {
	name, err := newProfileArg(c)
	if err != nil {
		return err
	}
	if serial := c.String("mfa-serial"); serial != "" && !validSerial(serial) {
		return usageError{errors.New("--mfa-serial must be an MFA device ARN or serial number, on one line")}
	}
	b, err := newBroker(c)
	if err != nil {
		return err
	}
	force := c.Bool("force")
	if !force { // refuse before asking for the secret
		old, stored, err := b.StoredKey(name)
		if err != nil {
			return err
		}
		if stored && c.String("mfa-serial") != "" {
			return addMFASerial(c, b, name, old)
		}
		if stored {
			return &broker.KeyStoredError{Profile: name, KeyID: broker.MaskKeyID(old.AccessKeyID)}
		}
	}
	key, err := readKey(c.Bool("env"))
	if err != nil {
		return err
	}
	if err := broker.ValidateKey(key.AccessKeyID, key.SecretAccessKey); err != nil {
		return err
	}
	ctx, stop := signalContext(c)
	defer stop()
	if !c.Bool("no-verify") {
		who, err := b.Identity(ctx, name, key)
		if err != nil {
			return withHint(fmt.Errorf("checking the key with AWS: %w; nothing was stored", err),
				"check the key ID and secret, or pass --no-verify to store it without asking AWS")
		}
		fmt.Fprintf(c.App.ErrWriter, "AWS knows the key %s: %s.\n", broker.MaskKeyID(key.AccessKeyID), whose(who))
	}
	replaced, err := b.AddKey(name, key, force)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "Stored access key %s for profile %q in the %s keychain.\n",
		broker.MaskKeyID(key.AccessKeyID), name, b.Vault.Backend())
	if replaced != "" && replaced != key.AccessKeyID {
		fmt.Fprintf(c.App.ErrWriter, "It replaces the key %s, which stays valid in IAM: deactivate it with `broker keys deactivate %s %s`.\n",
			broker.MaskKeyID(replaced), name, replaced)
	}

	if p, err := b.Plan(name); err != nil || p.MFASerial != "" || p.NoMFA {
		return nil // the profile has an MFA device, opted out, or has a problem `broker list` shows
	}
	serial := c.String("mfa-serial")
	if serial == "" {
		serial, err = chooseMFADevice(ctx, c, b, name, key, false)
		if err != nil || serial == "" {
			return err
		}
	}
	if _, err := awsconfig.SetValue(b.Config.Path(), name, "mfa_serial", serial); err != nil {
		return fmt.Errorf("writing mfa_serial into %s: %w", b.Config.Path(), err)
	}
	fmt.Fprintf(c.App.ErrWriter, "Set mfa_serial = %s for profile %q in %s.\n", serial, name, b.Config.Path())
	return nil
}

// addMFASerial is `broker add PROFILE --mfa-serial ARN` for a profile whose
// key is stored already, as add's own hints advise after a choice of device
// could not be made: it sets the profile's mfa_serial and keeps the key.
// A key given with --env must be the stored one; replacing it takes --force.
func addMFASerial(c *cli.Context, b *broker.Broker, name string, stored vault.Key) error {
	if c.Bool("env") {
		key, err := readKey(true)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(key.AccessKeyID+"\n"+key.SecretAccessKey),
			[]byte(stored.AccessKeyID+"\n"+stored.SecretAccessKey)) != 1 {
			return &broker.KeyStoredError{Profile: name, KeyID: broker.MaskKeyID(stored.AccessKeyID)}
		}
	}
	serial := c.String("mfa-serial")
	path := b.Config.Path()
	p, err := b.Config.Profile(name)
	if err != nil && !errors.Is(err, awsconfig.ErrProfileNotFound) {
		return err
	}
	switch {
	case p.MFASerial == serial:
		fmt.Fprintf(c.App.ErrWriter, "Profile %q has mfa_serial = %s already; its key %s stays stored.\n", name, serial, broker.MaskKeyID(stored.AccessKeyID))
		return nil
	case p.MFASerial != "":
		return withHint(fmt.Errorf("profile %q has mfa_serial = %s already; nothing was changed", name, p.MFASerial),
			"to use the other device, run `aws configure set mfa_serial %s --profile %s` (or edit %s)", serial, name, path)
	}
	if _, err := awsconfig.SetValue(path, name, "mfa_serial", serial); err != nil {
		return fmt.Errorf("writing mfa_serial into %s: %w", path, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "Set mfa_serial = %s for profile %q in %s; its stored key %s is unchanged.\n",
		serial, name, path, broker.MaskKeyID(stored.AccessKeyID))
	return nil
}

// whose names the user and account of a key, as add and import show them.
func whose(who broker.Identity) string {
	return fmt.Sprintf("%s (account %s)", who.ARN, who.Account)
}

// readKey reads a key pair from the environment or the terminal.
func readKey(fromEnv bool) (vault.Key, error) {
	if fromEnv {
		k := vault.Key{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
		if k.AccessKeyID == "" {
			return k, withHint(errors.New("--env: AWS_ACCESS_KEY_ID is not set"), "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or leave out --env to type them")
		}
		if err := lifecycle.ValidateKeyID(k.AccessKeyID); err != nil {
			if lifecycle.ValidateKeyID(k.SecretAccessKey) == nil {
				return vault.Key{}, withHint(fmt.Errorf("--env: AWS_ACCESS_KEY_ID: %w", err),
					"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY look swapped: the key ID (AKIA…) goes in AWS_ACCESS_KEY_ID, the secret in AWS_SECRET_ACCESS_KEY")
			}
			return vault.Key{}, withHint(fmt.Errorf("--env: AWS_ACCESS_KEY_ID: %w", err),
				"AWS_ACCESS_KEY_ID holds the access key ID (AKIA…), AWS_SECRET_ACCESS_KEY the secret")
		}
		return k, nil
	}
	t, err := openTerminal()
	if err != nil {
		return vault.Key{}, withHint(err, "use --env with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set")
	}
	defer t.Close()
	id, err := readKeyID(t)
	if err != nil {
		return vault.Key{}, err
	}
	secret, err := t.secret("Secret access key: ")
	return vault.Key{AccessKeyID: id, SecretAccessKey: secret}, err
}

// readKeyID reads the access key ID without echo, so that a secret pasted
// there by mistake never shows on the screen, and then shows it masked.
// What is not a key ID is refused at once, before the secret is asked for.
func readKeyID(t *terminal) (string, error) {
	const prompt = "Access key ID: "
	id, err := t.secret(prompt)
	if err != nil {
		return "", err
	}
	if err := lifecycle.ValidateKeyID(id); err != nil {
		t.printf("%s%s(not shown)\n", redoLine, prompt)
		return "", withHint(err, "paste the access key ID (AKIA…) first; the secret is asked for next")
	}
	t.printf("%s%s%s\n", redoLine, prompt, broker.MaskKeyID(id))
	return id, nil
}

// chooseMFADevice offers the key's MFA devices; "" means none was chosen,
// which leaves the profile unusable until one is set (broker says how).
// imported: the key came from a file it has left, so the way to set the
// device later is to write it into the profile, not `broker add`.
func chooseMFADevice(ctx context.Context, c *cli.Context, b *broker.Broker, name string, key vault.Key, imported bool) (string, error) {
	stderr := c.App.ErrWriter
	later := fmt.Sprintf("broker add %s --mfa-serial ARN", name)
	again := fmt.Sprintf("run `%s` with its ARN (the key is in the keychain already)", later)
	if imported {
		later = fmt.Sprintf("aws configure set mfa_serial ARN --profile %s", name)
		again = fmt.Sprintf("run `%s` with its ARN (the key is in the keychain already)", later)
	}
	devices, err := b.MFADevices(ctx, name, key)
	if err != nil {
		fmt.Fprintf(stderr, "warning: could not list MFA devices (%v)\n", err)
		fmt.Fprintf(stderr, "hint: set mfa_serial in the profile, or run `%s`\n", later)
		return "", nil
	}
	switch len(devices) {
	case 0:
		fmt.Fprintf(stderr, "warning: this key's user has no MFA device, and broker hands out only MFA-gated sessions\n")
		fmt.Fprintf(stderr, "hint: add a virtual MFA device in the IAM console, then %s\n", again)
		return "", nil
	case 1:
		return devices[0], nil
	}
	t, err := openTerminal()
	if err != nil {
		fmt.Fprintf(stderr, "warning: several MFA devices and no terminal to choose on\n")
		fmt.Fprintf(stderr, "hint: run `%s` with one of them\n", later)
		return "", nil
	}
	defer t.Close()
	for i, d := range devices {
		t.printf("  %d) %s\n", i+1, d)
	}
	for {
		answer, err := t.line(fmt.Sprintf("MFA device for profile %q [1-%d]: ", name, len(devices)))
		if err != nil {
			return "", err
		}
		if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(devices) {
			return devices[n-1], nil
		}
	}
}

// validSerial accepts an MFA device ARN or hardware serial: printable, no spaces.
func validSerial(s string) bool {
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return len(s) >= 9 && len(s) <= 256
}
