package main

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// testApp is broker's real command tree with its agent command replaced by
// one whose subcommands take a bool and a string flag, so that the table
// below does not change with the agent's own flags.
func testApp() *cli.App {
	app := newApp(io.Discard, io.Discard)
	app.Commands = slices.DeleteFunc(app.Commands, func(c *cli.Command) bool { return c.Name == "agent" })
	app.Commands = append(app.Commands, &cli.Command{
		Name: "agent",
		Subcommands: []*cli.Command{
			{Name: "status", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}}, Action: func(*cli.Context) error { return nil }},
			{Name: "start", ArgsUsage: "PROFILE", Flags: []cli.Flag{&cli.StringFlag{Name: "socket"}}, Action: func(*cli.Context) error { return nil }},
		},
	})
	return app
}

func TestOrderArgs(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Flags after PROFILE move ahead of it.
		{"rotate dev --yes", "rotate --yes dev"},
		{"rotate dev -y --keep-old", "rotate -y --keep-old dev"},
		{"export dev --format env", "export --format env dev"},
		{"export dev --format=env", "export --format=env dev"},
		{"export --format env dev", "export --format env dev"},
		{"keys dev --json", "keys --json dev"},
		{"keys dev --max-age 30 --json", "keys --max-age 30 --json dev"},
		{"login dev --stdout", "login --stdout dev"},
		{"login dev --path s3/home", "login --path s3/home dev"},
		{"add dev --env", "add --env dev"},
		{"remove bob --yes", "remove --yes bob"},
		{"setup dev --force", "setup --force dev"},
		{"list --json", "list --json"},
		// A value that looks like a flag or a command is a value.
		{"export dev --mfa-token --yes", "export --mfa-token --yes dev"},
		{"export --format rotate dev", "export --format rotate dev"},
		// Subcommands, with their flags anywhere.
		{"keys activate dev AKIA0TESTTESTTESTTES", "keys activate dev AKIA0TESTTESTTESTTES"},
		{"keys activate dev AKIA0TESTTESTTESTTES --mfa-token 123456", "keys activate --mfa-token 123456 dev AKIA0TESTTESTTESTTES"},
		{"keys delete dev KEY --yes --force", "keys delete --yes --force dev KEY"},
		{"keys deactivate --yes dev KEY", "keys deactivate --yes dev KEY"},
		{"agent status --json", "agent status --json"},
		{"agent start dev --socket /tmp/s", "agent start --socket /tmp/s dev"},
		// broker's own flags, from anywhere, go before the command.
		{"export dev --debug", "--debug export dev"},
		{"--debug export dev --format env", "--debug export --format env dev"},
		{"keys activate dev KEY --debug", "--debug keys activate dev KEY"},
		{"--version", "--version"},
		{"-v", "-v"},
		// exec: broker's flags end at `--` or at COMMAND.
		{"exec dev --server -- cmd", "exec --server dev -- cmd"},
		{"exec dev -- printf %s\\n --yes --format json", "exec dev -- printf %s\\n --yes --format json"},
		{"exec --server dev", "exec --server dev"},
		{"exec dev terraform plan -var x=1 --debug", "exec dev -- terraform plan -var x=1 --debug"},
		{"exec dev --mfa-token 123456 sh -c true", "exec --mfa-token 123456 dev -- sh -c true"},
		{"exec dev -- -- x", "exec dev -- -- x"},
		{"exec dev --", "exec dev --"},
		// `--` elsewhere: what follows is arguments, even with dashes.
		{"audit -- -weird.txt --json", "audit -- -weird.txt --json"},
		{"audit --json -- a b", "audit --json a b"},
		{"audit - --json", "audit --json -"},
		// Help.
		{"help", "--help"},
		{"help export", "export --help"},
		{"help export dev", "export --help"},
		{"help keys activate", "keys activate --help"},
		{"keys help", "keys --help"},
		{"help keys dev", "keys --help"},
		{"keys dev extra", "keys dev extra"},
		{"agent help", "agent --help"},
		{"help agent status", "agent status --help"},
		{"export dev --help", "export --help"},
		{"export dev -h", "export --help"},
		// Nothing to order.
		{"", ""},
	}
	app := testApp()
	for _, tt := range tests {
		got, err := orderArgs(app, append([]string{"broker"}, strings.Fields(tt.in)...))
		if err != nil {
			t.Errorf("orderArgs(%q): %v", tt.in, err)
			continue
		}
		if g := strings.Join(got[1:], " "); g != tt.want {
			t.Errorf("orderArgs(%q) = %q, want %q", tt.in, g, tt.want)
		}
	}
}

func TestOrderArgsRefuses(t *testing.T) {
	tests := []struct {
		in, msg, hint string
	}{
		{"rotate dev --frobnicate", "unknown flag --frobnicate for broker rotate", "`broker help rotate` lists the flags"},
		{"--frobnicate list", "unknown flag --frobnicate for broker", "`broker help` lists the flags"},
		{"export dev --fromat env", "unknown flag --fromat for broker export", "did you mean --format?"},
		{"export dev --mfa-tokn=123456", "unknown flag --mfa-tokn for broker export", "did you mean --mfa-token?"},
		{"export dev --format", "flag --format needs a value", "`broker help export`"},
		{"keys delete dev KEY --keep-old", "unknown flag --keep-old for broker keys delete", ""},
		{"rotat dev", "unknown command 'rotat'; did you mean 'rotate'?", "`broker help` lists the commands"},
		{"exprot dev", "unknown command 'exprot'; did you mean 'export'?", ""},
		{"frobnicate", "unknown command 'frobnicate'", "`broker help` lists the commands"},
		{"help rotat", "unknown command 'rotat'; did you mean 'rotate'?", ""},
		{"help frobnicate", "unknown command 'frobnicate'", ""},
		{"agent stauts", "unknown command 'agent stauts'; did you mean 'agent status'?", "`broker help agent` lists the commands"},
		{"exec -- cmd", "exec needs PROFILE before --", "see `broker help exec`"},
		{"keys actvate dave KEY", "unknown command 'keys actvate'; did you mean 'keys activate'?", "`broker help keys` lists the commands"},
		{"keys fnd dev KEY", "unknown command 'keys fnd'; did you mean 'keys find'?", ""},
		{"help keys actvate", "unknown command 'keys actvate'; did you mean 'keys activate'?", ""},
		{"---x list", "unknown flag ---x for broker", ""},
	}
	app := testApp()
	for _, tt := range tests {
		_, err := orderArgs(app, append([]string{"broker"}, strings.Fields(tt.in)...))
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("orderArgs(%q) = %v; want a usage error", tt.in, err)
			continue
		}
		if err.Error() != tt.msg && !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("orderArgs(%q): %q; want %q", tt.in, err, tt.msg)
		}
		if hint := hintFor(err); !strings.Contains(hint, tt.hint) {
			t.Errorf("orderArgs(%q): hint %q; want it to say %q", tt.in, hint, tt.hint)
		}
	}
}

// A value typed after `=` to an unknown flag is never echoed: it may be a
// secret typed in the wrong place.
func TestUnknownFlagHidesValue(t *testing.T) {
	_, err := orderArgs(testApp(), []string{"broker", "add", "dev", "--secret=wJalrXUtnFEMI0K7MDENGbPxRfiCYEXAMPLEKEY"})
	if err == nil || strings.Contains(err.Error()+hintFor(err), "wJalr") {
		t.Fatalf("error %v shows the flag's value", err)
	}
}

func TestClosest(t *testing.T) {
	names := []string{"rotate", "revoke", "remove", "rm", "export", "exec", "list", "ls"}
	for typed, want := range map[string]string{
		"rotat": "rotate", "roatte": "rotate", "revok": "revoke", "exe": "exec", "expotr": "export",
		"lst": "list", "xyzzy": "", "r": "", "": "",
	} {
		if got := closest(typed, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", typed, got, want)
		}
	}
}

// FuzzOrderArgs: for any command line, orderArgs either refuses it with a
// usage error or returns the same words with only `--` added or dropped,
// which orderArgs leaves as they are, and which keeps exec's command line
// as typed.
func FuzzOrderArgs(f *testing.F) {
	for _, s := range []string{
		"rotate dev --yes", "exec dev --server -- printf %s --yes", "keys activate dev K --mfa-token 1",
		"help keys", "export dev --format=env --debug", "audit -- -x", "exec dev sh -c --", "agent status --json",
		"exec --mfa-token -- dev -- x", "--debug -- list",
	} {
		f.Add(s)
	}
	app := testApp()
	f.Fuzz(func(t *testing.T, line string) {
		args := append([]string{"broker"}, strings.Split(line, " ")...)
		got, err := orderArgs(app, args)
		if err != nil {
			var usage usageError
			if !errors.As(err, &usage) {
				t.Fatalf("orderArgs(%q): %v is not a usage error", line, err)
			}
			return
		}
		if got[0] != "broker" {
			t.Fatalf("orderArgs(%q) lost the program name: %q", line, got)
		}
		again, err := orderArgs(app, got)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("orderArgs(%q) = %q, but ordering that again gives %q, %v", line, got, again, err)
		}
		if slices.Contains(got, "--help") && !slices.Contains(args, "--help") {
			return // `help X` became `X --help`
		}
		if !sameWords(args, got) {
			t.Fatalf("orderArgs(%q) = %q: not the same words", line, got)
		}
		// exec's command line is the end of what was typed, untouched.
		ln, err := parseLine(app, args[1:], false)
		if err != nil {
			t.Fatal(err)
		}
		if ln.hasPass {
			n := len(ln.passed)
			if !slices.Equal(args[len(args)-n:], ln.passed) || !slices.Equal(got[len(got)-n:], ln.passed) || got[len(got)-n-1] != "--" {
				t.Fatalf("orderArgs(%q) = %q: the command line to run became %q", line, got, ln.passed)
			}
		}
	})
}

// sameWords: a and b hold the same words, `--` and `help` aside, as many
// times each.
func sameWords(a, b []string) bool {
	count := map[string]int{}
	for _, w := range a {
		count[w]++
	}
	for _, w := range b {
		count[w]--
	}
	for w, n := range count {
		if n != 0 && w != "--" && w != "help" {
			return false
		}
	}
	return true
}
