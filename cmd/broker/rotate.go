package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Placeholder while rotate is written; replaced wholesale by its implementation.
func rotateCommand() *cli.Command {
	return &cli.Command{Name: "rotate", Hidden: true, Action: func(*cli.Context) error { return errors.New("rotate: not built yet") }}
}
