// Command broker-credential-process is what `broker setup` writes into the
// AWS config's credential_process: a small program that asks the broker
// agent for the profile's session and prints the credential_process
// document, and, whenever the agent cannot answer (off, not running, no
// usable session held, a command changing keys, anything unexpected),
// replaces itself with `broker export PROFILE`, which answers as it always
// has (and starts the agent for next time).
//
// It links neither the AWS SDK, nor the keychain library, nor the CLI
// library: starting it costs about what starting a program that only prints
// JSON costs (see scripts/bench.sh).
//
// Usage: broker-credential-process PROFILE
package main

import (
	"errors"
	"os"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
)

// askTimeout bounds the question to the agent; past it, broker export
// answers instead.
const askTimeout = 2 * time.Second

func main() {
	// Its one argument is a profile name whatever it looks like: "--help"
	// or "-x" is a profile, never help or a flag (help on stdout would be
	// read by the AWS CLI as credentials). A leading "--" is allowed.
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) != 1 || args[0] == "" {
		os.Stderr.WriteString("broker: broker-credential-process takes one PROFILE argument\nhint: it is what `broker setup PROFILE` writes into credential_process; run `broker export PROFILE` yourself\n")
		os.Exit(2)
	}
	profile := args[0]
	env := os.Environ()
	if wire.Enabled(os.Getenv) {
		answered, err := warm(profile)
		if answered {
			if err != nil {
				os.Stderr.WriteString("broker: writing the credentials: " + err.Error() + "\n")
				os.Exit(1)
			}
			return
		}
		if errors.Is(err, wire.ErrUnresponsive) {
			// Said once, here: broker export takes the direct path
			// without asking the agent again. Not said when the agent
			// answers status: one of before protocol 2, silent while
			// another client mints (wire.AnswersStatus).
			if dir, derr := wire.Dir(); derr != nil || !wire.AnswersStatus(dir, time.Second) {
				os.Stderr.WriteString("broker: the agent does not answer; taking the direct path\n" +
					"hint: if you stopped it, `kill -CONT` it; else `broker agent stop` ends it, or set BROKER_AGENT=off\n")
			}
			env = append(env, "BROKER_AGENT=off")
		}
	}
	// "--" so that broker reads the name as the profile, never as a flag.
	os.Exit(handOver([]string{"export", "--", profile}, env))
}

// warm prints the agent's answer for profile; answered false means it has
// none (err is then why, when it is worth saying) and nothing was written.
func warm(profile string) (answered bool, err error) {
	dir, err := wire.Dir()
	if err != nil {
		return false, nil
	}
	gen, err := wire.GenerationPath()
	if err != nil {
		return false, nil
	}
	key, err := wire.Key(gen, profile, os.Environ())
	if err != nil {
		return false, nil
	}
	conn, err := wire.Dial(dir)
	if err != nil {
		return false, nil
	}
	defer conn.Close()
	answer, err := conn.Get(key, false, askTimeout, askTimeout, time.Now)
	if err != nil || answer.Creds == nil {
		return false, err
	}
	return true, wire.WriteDocument(os.Stdout, *answer.Creds)
}
