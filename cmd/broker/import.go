package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Placeholder while import is written; replaced wholesale by its implementation.
func importCommand() *cli.Command {
	return &cli.Command{Name: "import", Hidden: true, Action: func(*cli.Context) error { return errors.New("import: not built yet") }}
}
