package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "list profiles, their stored keys and cached sessions",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for programs"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{fmt.Errorf("list takes no arguments")}
			}
			b, err := newBroker(c)
			if err != nil {
				return err
			}
			rows, err := b.Status()
			if err != nil {
				return err
			}
			for _, note := range ignoredAWSVaultVars(os.Environ()) {
				fmt.Fprintln(c.App.ErrWriter, "broker: note: "+note)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROFILE\tKEY\tMFA\tSESSIONS\tNOTE")
			for _, r := range rows {
				key := "-"
				if r.KeyID != "" {
					key = r.KeyID
				} else if r.Source != "" {
					key = "from " + r.Source
				}
				mfaCol := "-"
				switch {
				case r.NoMFA:
					mfaCol = "OPTED OUT"
				case r.MFASerial != "" && r.MFAFrom != "" && r.MFAFrom != r.Name:
					mfaCol = "yes (from " + r.MFAFrom + ")"
				case r.MFASerial != "":
					mfaCol = "yes"
				}
				var sessions []string
				for _, s := range r.Sessions {
					what := "mfa"
					if s.RoleARN != "" {
						what = "role"
					}
					sessions = append(sessions, what+" "+s.Remaining+" left")
				}
				if len(sessions) == 0 {
					sessions = []string{"-"}
				}
				notes := r.Notes
				if r.Problem != "" {
					notes = append([]string{r.Problem}, notes...)
				}
				if !r.InConfig {
					notes = append([]string{"not in config"}, notes...)
				}
				note := strings.Join(notes, "; ")
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, key, mfaCol, strings.Join(sessions, ", "), oneLine(note))
			}
			return w.Flush()
		},
	}
}
