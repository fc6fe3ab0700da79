package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Placeholder while audit is written; replaced wholesale by its implementation.
func auditCommand() *cli.Command {
	return &cli.Command{Name: "audit", Hidden: true, Action: func(*cli.Context) error { return errors.New("audit: not built yet") }}
}
