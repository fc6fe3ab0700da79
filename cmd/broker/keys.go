package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Placeholder while keys is written; replaced wholesale by its implementation.
func keysCommand() *cli.Command {
	return &cli.Command{Name: "keys", Hidden: true, Action: func(*cli.Context) error { return errors.New("keys: not built yet") }}
}
