package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"

	"github.com/broker-dev/broker/broker"
	"github.com/urfave/cli/v2"
)

// The variables the AWS SDKs' container credentials provider reads.
const (
	containerURIVar   = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	containerTokenVar = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
)

var serverFlag = &cli.BoolFlag{
	Name:  "server",
	Usage: "serve refreshed credentials to COMMAND from a 127.0.0.1 endpoint (the SDKs' container provider) instead of its environment",
}

// runServer runs argv as a child that gets profile's credentials from a
// CredentialServer on 127.0.0.1, and passes on its exit status. The server
// lives exactly as long as the child.
func runServer(c *cli.Context, b *broker.Broker, profile, path string, argv []string, region string) error {
	token, err := newServerToken()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	srv := broker.NewCredentialServer(b, profile, token, addr)
	defer srv.Close()
	srv.OnError = func(err error) {
		report(c.App.ErrWriter, fmt.Errorf("refreshing credentials for the command: %w", err))
	}
	hs := srv.HTTPServer()
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	if b.Debugf != nil {
		b.Debugf("credential server for profile %q on %s", profile, addr)
	}

	set := []string{
		containerURIVar + "=http://" + addr + broker.CredentialsPath,
		containerTokenVar + "=" + token,
		markerVar + "=" + profile,
	}
	if region != "" {
		set = append(set, "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region)
	}
	env := childEnv(os.Environ(), set...)
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	// Caught from before the start, so none is lost in between.
	signals := newSignalRelay()
	defer signals.stop()
	if err := cmd.Start(); err != nil {
		return execError(path, err)
	}
	signals.start(cmd.Process)
	err = cmd.Wait()
	// The child is gone: stop serving before anything else.
	hs.Close()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitCode(childStatus(exit))
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", path, err)
	}
	return nil
}

// newServerToken is 256 random bits, hex: it goes in the child's environment
// only, never in argv or a file.
func newServerToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the server's token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
