package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// readme is the project's README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlocks are the fenced blocks of a Markdown text, with their language.
func codeBlocks(md string) (blocks []struct{ lang, body string }) {
	lines := strings.SplitAfter(md, "\n")
	for i := 0; i < len(lines); i++ {
		fence, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		var body strings.Builder
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body.WriteString(lines[i])
		}
		blocks = append(blocks, struct{ lang, body string }{strings.TrimSpace(fence), body.String()})
	}
	return blocks
}

var (
	inlineCode = regexp.MustCompile("`(broker [^`]+)`")
	commentAt  = regexp.MustCompile(`\s+#.*$`)
	shellWord  = regexp.MustCompile(`'[^']*'|"[^"]*"|\S+`)
)

// readmeCommandLines are the broker command lines the README shows: in
// shell code blocks (also inside `$(…)`), and in inline code; usage
// notation (`[--env]`, `json|env`, `ARGS…`) is spelled out, one line per
// alternative.
func readmeCommandLines(t *testing.T) []string {
	md := readme(t)
	var lines []string
	for _, b := range codeBlocks(md) {
		if b.lang != "sh" {
			continue
		}
		for _, l := range strings.Split(b.body, "\n") {
			l = commentAt.ReplaceAllString(l, "")
			for _, part := range regexp.MustCompile(`&&|;|\|`).Split(l, -1) {
				part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "eval"))
				part = strings.Trim(part, `"$()`)
				if strings.HasPrefix(part, "broker ") {
					lines = append(lines, part)
				}
			}
		}
	}
	for _, m := range inlineCode.FindAllStringSubmatch(md, -1) {
		cmd, _, _ := strings.Cut(m[1], ` \| `) // a shell pipe in a table cell: `broker completion fish \| source`
		lines = append(lines, spellOut(cmd)...)
	}
	return lines
}

// spellOut turns usage notation into command lines.
func spellOut(usage string) []string {
	usage = strings.NewReplacer(`\|`, "|", "[", " ", "]", " ", "…", "", "...", "").Replace(usage)
	words := strings.Fields(usage)
	for i, w := range words {
		if w == "COMMAND" && i > 0 && words[i-1] == "help" {
			words[i] = "export" // `broker help COMMAND`
		}
	}
	n := 1
	for _, w := range words {
		if alts := strings.Split(w, "|"); len(alts) > n && !strings.HasPrefix(w, "|") {
			n = len(alts)
		}
	}
	var out []string
	for i := range n {
		var line []string
		for _, w := range words {
			alts := strings.Split(w, "|")
			line = append(line, alts[min(i, len(alts)-1)])
		}
		out = append(out, strings.Join(line, " "))
	}
	return out
}

// parsesOnly is broker's command tree with every action replaced: a
// command line is read (ordered, flags parsed and typed) and nothing runs.
func parsesOnly() *cli.App {
	app := newApp(io.Discard, io.Discard)
	var stub func([]*cli.Command)
	stub = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Action != nil {
				c.Action = stubAction
			}
			stub(c.Subcommands)
		}
	}
	stub(app.Commands)
	return app
}

// stubAction fails where the real action would get a flag as an argument,
// or more arguments than its usage names.
func stubAction(c *cli.Context) error {
	usage := c.Command.ArgsUsage
	named := usageWords(usage)
	for i, a := range c.Args().Slice() {
		if a == "--" {
			return nil
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			return fmt.Errorf("flag %s was read as an argument", a)
		}
		if i >= len(named) && !strings.Contains(usage, "…") && !strings.Contains(usage, "...") {
			return fmt.Errorf("argument %q is more than %q takes", a, usage)
		}
	}
	return nil
}

// TestREADMEExamplesParse: every broker command line the README shows is
// one the CLI reads: known commands and flags, in an order it accepts.
func TestREADMEExamplesParse(t *testing.T) {
	lines := readmeCommandLines(t)
	if len(lines) < 30 {
		t.Fatalf("found only %d broker command lines in the README: %q", len(lines), lines)
	}
	for _, l := range lines {
		var args []string
		for _, w := range shellWord.FindAllString(l, -1) {
			args = append(args, strings.Trim(w, `'"`))
		}
		ordered, err := orderArgs(parsesOnly(), args)
		if err == nil {
			err = parsesOnly().Run(ordered)
		}
		if err != nil {
			t.Errorf("README shows `%s`, which broker refuses: %v", l, err)
		}
	}
}

func TestSpellOut(t *testing.T) {
	got := spellOut(`broker export PROFILE [--format json\|env] [--mfa-token CODE]`)
	want := []string{"broker export PROFILE --format json --mfa-token CODE", "broker export PROFILE --format env --mfa-token CODE"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("spellOut = %q, want %q", got, want)
	}
}
