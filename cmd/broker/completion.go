package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion: the scripts pass every word typed so far, the one being
// completed last (possibly empty), followed by completionFlag; broker prints
// the candidates, one a line, and the shell keeps those that fit. The
// candidates come from the same command line parser as orderArgs: flags of
// the command being typed (and broker's own), commands and subcommands, and
// profile names where the command's usage says PROFILE.

const completionFlag = "--generate-bash-completion"

const bashCompletion = `_broker_complete() {
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD}" ` + completionFlag + ` 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
}
complete -o default -F _broker_complete broker
`

const zshCompletion = `#compdef broker
_broker() {
  local -a opts
  opts=(${(f)"$("${words[1]}" "${(@)words[2,CURRENT]}" ` + completionFlag + ` 2>/dev/null)"})
  if (( ${#opts} )); then compadd -a opts; else _files; fi
}
compdef _broker broker
`

const fishCompletion = `function __broker_complete
    set -l words (commandline -opc)
    set -e words[1]
    broker $words (commandline -ct) ` + completionFlag + ` 2>/dev/null
end
complete -c broker -f -a '(__broker_complete)'
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: eval \"$(broker completion bash)\"",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			scripts := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}
			script, ok := scripts[c.Args().First()]
			if !ok || c.NArg() != 1 {
				return usageError{fmt.Errorf("completion needs one of bash, zsh, fish")}
			}
			fmt.Fprint(c.App.Writer, script)
			return nil
		},
	}
}

// isCompletion: the shell asks for candidates.
func isCompletion(args []string) bool {
	return len(args) >= 2 && args[len(args)-1] == completionFlag
}

// complete prints the candidates for the last of words.
func complete(app *cli.App, words []string, w io.Writer) {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	ln, _ := parseLine(app, words[:len(words)-1], true)
	var out []string
	l := ln.levels[len(ln.levels)-1]
	switch {
	case ln.pending, ln.hasPass:
		// A flag's value, or the command exec runs: the shell's own
		// completion (files) does better.
	case strings.HasPrefix(cur, "-"):
		for i := len(ln.levels) - 1; i >= 0; i-- {
			for name := range ln.levels[i].flags {
				if name != completionFlag[2:] {
					out = append(out, dashed(name))
				}
			}
		}
		if l.passAfter >= 0 {
			out = append(out, "--")
		}
	default:
		if len(ln.args) == 0 && len(l.subs) > 0 {
			for _, c := range l.subs {
				if !c.Hidden {
					out = append(out, c.Names()...)
				}
			}
			if l.cmd == nil {
				out = append(out, "help")
			}
		}
		out = append(out, argCandidates(l, len(ln.args))...)
	}
	slices.Sort(out)
	for _, c := range slices.Compact(out) {
		if strings.HasPrefix(c, cur) {
			fmt.Fprintln(w, c)
		}
	}
}

// argCandidates are the values the n-th argument of l's command can take,
// by its name in the command's usage: PROFILE is a profile of the config,
// a|b|c is one of a, b and c.
func argCandidates(l *level, n int) []string {
	if l.cmd == nil {
		return nil
	}
	words := usageWords(l.cmd.ArgsUsage)
	if n >= len(words) {
		return nil
	}
	switch word := words[n]; {
	case word == "PROFILE":
		cfg, err := loadConfig()
		if err != nil {
			return nil
		}
		return cfg.ProfileNames()
	case strings.Contains(word, "|") && strings.ToLower(word) == word:
		return strings.Split(word, "|")
	}
	return nil
}
