package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli v2 reads a command's flags only up to its first argument, but
// people type flags anywhere: `broker rotate dev --yes`. orderArgs moves each
// flag to the command it belongs to, ahead of the arguments, before the app
// parses them. What a flag is, and whether it takes a value, comes from the
// app's own command and flag definitions, so a new flag works at once.
//
// Rules:
//   - A flag belongs to the innermost command on the line that defines it,
//     else to an enclosing one, else to broker itself (--debug).
//   - `--` ends broker's flags. For a command whose ArgsUsage has `--`
//     (exec: "PROFILE [-- COMMAND [ARGS...]]"), everything after it, or after
//     as many arguments as come before `--` in its usage, is the command's,
//     untouched.
//   - `broker help [COMMAND...]` and `broker COMMAND help` mean --help.
//   - An unknown flag or command is a usageError naming it.

// level is broker itself or one command on the line, with its flags.
type level struct {
	name  string         // "broker", "broker keys activate"
	cmd   *cli.Command   // nil for broker itself
	typed string         // the command's name as typed: a name or an alias
	subs  []*cli.Command // the commands under it
	flags map[string]bool
	// passAfter is how many arguments come before the command's own
	// command line (exec: 1, PROFILE); -1 for none.
	passAfter int
}

func appLevel(app *cli.App) *level {
	l := &level{name: app.Name, subs: app.Commands, flags: map[string]bool{}, passAfter: -1}
	addFlags(l.flags, app.Flags)
	if !app.HideHelp {
		addFlags(l.flags, []cli.Flag{cli.HelpFlag})
	}
	if !app.HideVersion {
		addFlags(l.flags, []cli.Flag{cli.VersionFlag})
	}
	return l
}

func commandLevel(parent *level, c *cli.Command, typed string) *level {
	l := &level{name: parent.name + " " + c.Name, cmd: c, typed: typed, subs: c.Subcommands, flags: map[string]bool{}, passAfter: -1}
	addFlags(l.flags, c.Flags)
	if !c.HideHelp {
		addFlags(l.flags, []cli.Flag{cli.HelpFlag})
	}
	if words := usageWords(c.ArgsUsage); len(words) < len(strings.Fields(c.ArgsUsage)) {
		l.passAfter = len(words)
	}
	return l
}

// addFlags records each name of each flag, and whether it takes a value.
func addFlags(m map[string]bool, flags []cli.Flag) {
	for _, f := range flags {
		takes := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			takes = d.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = takes
		}
	}
}

// usageWords are the argument names of an ArgsUsage before any `--`:
// "PROFILE [-- COMMAND [ARGS...]]" gives [PROFILE].
func usageWords(usage string) []string {
	var words []string
	for _, w := range strings.Fields(usage) {
		w = strings.Trim(w, "[]")
		if w == "--" {
			break
		}
		words = append(words, w)
	}
	return words
}

func (l *level) sub(name string) *cli.Command {
	for _, c := range l.subs {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// line is a command line taken apart.
type line struct {
	levels  []*level
	flags   [][]string // per level, in the order typed
	args    []string   // the innermost command's arguments
	passed  []string   // the command line handed on untouched (exec)
	hasPass bool
	help    bool // `help` was asked for
	pending bool // the last token is a flag still waiting for its value
}

// orderArgs returns args (args[0] the program) in the order urfave/cli v2
// reads them: each command's flags right after its name, then its
// arguments.
func orderArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	ln, err := parseLine(app, args[1:], false)
	if err != nil {
		return nil, err
	}
	return ln.ordered(args[0]), nil
}

func (ln *line) ordered(prog string) []string {
	out := []string{prog}
	for i, l := range ln.levels {
		if l.cmd != nil {
			out = append(out, l.typed)
		}
		out = append(out, ln.flags[i]...)
	}
	if ln.help {
		return append(out, "--"+cli.HelpFlag.Names()[0])
	}
	last := ln.levels[len(ln.levels)-1]
	for i, a := range ln.args {
		if strings.HasPrefix(a, "-") && a != "-" || i == 0 && (last.sub(a) != nil || a == "help") {
			out = append(out, "--")
			break
		}
	}
	out = append(out, ln.args...)
	if ln.hasPass {
		out = append(out, "--")
		out = append(out, ln.passed...)
	}
	return out
}

// parseLine takes tokens (the program name left out) apart. With partial,
// for shell completion, it never fails: it stops where it cannot go on.
func parseLine(app *cli.App, tokens []string, partial bool) (*line, error) {
	ln := &line{levels: []*level{appLevel(app)}, flags: [][]string{nil}}
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		cur := ln.levels[len(ln.levels)-1]
		if tok == "--" {
			rest := tokens[i+1:]
			if len(rest) > 0 && len(ln.args) == 0 && (cur.cmd == nil || cur.cmd.Action == nil) && !ln.help {
				if partial {
					return ln, nil
				}
				return nil, withHint(usageError{errors.New("-- must come after the command")}, "`%s` lists the commands", helpFor(cur))
			}
			if cur.passAfter < 0 {
				ln.args = append(ln.args, rest...)
				return ln, nil
			}
			if len(ln.args) < cur.passAfter && !ln.help {
				if partial {
					return ln, nil
				}
				return nil, withHint(usageError{fmt.Errorf("%s needs %s before --", strings.TrimPrefix(cur.name, "broker "), strings.Join(usageWords(cur.cmd.ArgsUsage)[len(ln.args):], " "))},
					"see `%s`", helpFor(cur))
			}
			ln.passed, ln.hasPass = rest, true
			return ln, nil
		}
		if isFlag(tok) {
			name, hasValue := flagName(tok)
			if slices.Contains(cli.HelpFlag.Names(), name) && !hasValue {
				ln.help = true // `broker export dev --help`: help, whatever else was typed
				continue
			}
			at, takes := ln.owner(name)
			if at < 0 {
				if partial {
					return ln, nil
				}
				return nil, unknownFlag(cur, tok, name)
			}
			ln.flags[at] = append(ln.flags[at], tok)
			if takes && !hasValue {
				if i+1 == len(tokens) {
					if partial {
						ln.pending = true
						return ln, nil
					}
					return nil, withHint(usageError{fmt.Errorf("flag %s needs a value", dashed(name))}, "see `%s`", helpFor(cur))
				}
				i++
				ln.flags[at] = append(ln.flags[at], tokens[i])
			}
			continue
		}
		if cur.passAfter >= 0 && len(ln.args) == cur.passAfter && !ln.help {
			ln.passed, ln.hasPass = tokens[i:], true
			return ln, nil
		}
		if len(ln.args) == 0 && len(cur.subs) > 0 {
			if c := cur.sub(tok); c != nil {
				ln.levels = append(ln.levels, commandLevel(cur, c, tok))
				ln.flags = append(ln.flags, nil)
				continue
			}
			if tok == "help" && !ln.help {
				ln.help = true
				continue
			}
			// `broker help keys actvate`: help names commands, and one
			// that is near a subcommand's name is a typo of it.
			if cur.cmd == nil || cur.cmd.Action == nil || ln.help && closest(tok, subNames(cur)) != "" {
				if partial {
					return ln, nil
				}
				return nil, unknownCommand(cur, tok)
			}
		}
		if ln.help {
			continue // `broker help export dev`: help for export
		}
		ln.args = append(ln.args, tok)
	}
	// `broker keys actvate dave KEY`: keys takes one PROFILE, so more
	// arguments led by a near miss of a subcommand's name are that typo.
	if last := ln.levels[len(ln.levels)-1]; !partial && !ln.help && last.cmd != nil && len(last.subs) > 0 &&
		len(ln.args) > len(usageWords(last.cmd.ArgsUsage)) && closest(ln.args[0], subNames(last)) != "" {
		return nil, unknownCommand(last, ln.args[0])
	}
	return ln, nil
}

// subNames are the names and aliases of the commands under l that help shows.
func subNames(l *level) []string {
	var names []string
	for _, c := range l.subs {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	return names
}

// owner is the innermost level defining flag name, and whether it takes a
// value; -1 if none does.
func (ln *line) owner(name string) (int, bool) {
	for i := len(ln.levels) - 1; i >= 0; i-- {
		if takes, ok := ln.levels[i].flags[name]; ok {
			return i, takes
		}
	}
	return -1, false
}

// isFlag: "-x", "--name", "--name=value"; not "-" or "--".
func isFlag(tok string) bool {
	return len(tok) > 1 && tok[0] == '-' && tok != "--"
}

// flagName is the name in "-n", "--name" or "--name=value", as Go's flag
// package reads it.
func flagName(tok string) (name string, hasValue bool) {
	name = strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	name, _, hasValue = strings.Cut(name, "=")
	return name, hasValue
}

func dashed(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

func helpFor(l *level) string {
	if l.cmd == nil {
		return "broker help"
	}
	return "broker help" + strings.TrimPrefix(l.name, "broker")
}

func unknownFlag(l *level, tok, name string) error {
	shown := tok
	if name, _, ok := strings.Cut(tok, "="); ok {
		shown = name // never echo a value: it may be a secret typed by mistake
	}
	err := usageError{fmt.Errorf("unknown flag %s for %s", printableArg(shown), l.name)}
	var names []string
	for n := range l.flags {
		names = append(names, n)
	}
	if s := closest(name, names); s != "" {
		return withHint(err, "did you mean %s? `%s` lists the flags", dashed(s), helpFor(l))
	}
	return withHint(err, "`%s` lists the flags", helpFor(l))
}

func unknownCommand(l *level, tok string) error {
	prefix := strings.TrimPrefix(strings.TrimPrefix(l.name, "broker"), " ")
	if prefix != "" {
		prefix += " "
	}
	if s := closest(tok, subNames(l)); s != "" {
		return withHint(usageError{fmt.Errorf("unknown command '%s%s'; did you mean '%s%s'?", prefix, printableArg(tok), prefix, s)},
			"`%s` lists the commands", helpFor(l))
	}
	return withHint(usageError{fmt.Errorf("unknown command '%s%s'", prefix, printableArg(tok))}, "`%s` lists the commands", helpFor(l))
}

// printableArg keeps control characters typed on a command line off the
// terminal.
func printableArg(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// closest is the name nearest to typed, if it is near enough to be a typo:
// a prefix of it (two letters at least), or within an edit distance of about a
// third of its length.
func closest(typed string, names []string) string {
	best, bestDist := "", -1
	if len(typed) < 2 {
		return ""
	}
	for _, n := range names {
		if len(n) < 2 {
			continue
		}
		d := editDistance(typed, n)
		if strings.HasPrefix(n, typed) {
			d = 1
		}
		if d <= max(1, len(n)/3) && (bestDist < 0 || d < bestDist || d == bestDist && n < best) {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (with adjacent
// transpositions) between a and b, bytes compared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
