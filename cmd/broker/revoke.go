package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Placeholder while revoke is written; replaced wholesale by its implementation.
func revokeCommand() *cli.Command {
	return &cli.Command{Name: "revoke", Hidden: true, Action: func(*cli.Context) error { return errors.New("revoke: not built yet") }}
}
