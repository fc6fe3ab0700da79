package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/broker-dev/broker/internal/testpty"
)

// readmeBlock is the first sh code block after the README heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	md := readme(t)
	i := strings.Index(md, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q heading", heading)
	}
	for _, b := range codeBlocks(md[i:]) {
		if b.lang == "sh" {
			return b.body
		}
	}
	t.Fatalf("README has no sh block after %q", heading)
	return ""
}

// TestQuickStart runs the README's quick start as written, line by line, on
// a terminal, on a machine with no AWS config: a person types the key, the
// region (Enter: the default) and an MFA code where asked. `./install.sh`
// is left to .ci/run, which runs it; here the binary under test is first on
// PATH. terraform is a stand-in that reports what it got.
func TestQuickStart(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	bin := filepath.Join(w.root, "bin")
	os.Mkdir(bin, 0o700)
	os.WriteFile(filepath.Join(bin, "terraform"), []byte("#!/bin/sh\n"+
		`echo "terraform $* as $BROKER_PROFILE${AWS_SESSION_TOKEN:+ with a session} in $AWS_REGION"`+"\n"), 0o700)
	path := []string{"PATH=" + filepath.Dir(brokerBin) + ":" + bin + ":" + os.Getenv("PATH")}

	// What a person types at each command's prompts, in turn.
	answers := map[string][]string{
		"broker add dev":                    {"Access key ID: ", u.keyID + "\r", "Secret access key: ", u.secret + "\r"},
		"broker setup dev":                  {`Region for profile "dev"`, "\r"},
		"aws --profile dev s3 ls":           {"MFA code for " + u.serial, "123456\r"},
		"broker exec dev -- terraform plan": nil,
		"broker list":                       nil,
	}
	outputs := map[string]string{}
	ran := 0
	for _, line := range strings.Split(readmeBlock(t, "## Quick start"), "\n") {
		line = strings.TrimSpace(commentAt.ReplaceAllString(line, ""))
		if line == "" || line == "./install.sh" {
			continue
		}
		typed, known := answers[line]
		if !known {
			t.Fatalf("the quick start has a line this test does not know how to answer: %q", line)
		}
		p := testpty.Open(t)
		r := w.startOnTerminal(p, path, "sh", "-c", line)
		for i := 0; i+1 < len(typed); i += 2 {
			p.WaitFor(t, typed[i])
			p.Type(t, typed[i+1])
		}
		res := r.wait(t)
		if res.code != 0 {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s\nterminal: %q", line, res.code, res.stdout, res.stderr, p.Settle())
		}
		if shown := p.Settle(); strings.Contains(shown, u.secret) || strings.Contains(res.stdout+res.stderr, u.secret) {
			t.Errorf("%s showed the secret", line)
		}
		outputs[line] = res.stdout
		ran++
	}
	if ran != len(answers) {
		t.Errorf("ran %d quick start lines, want %d", ran, len(answers))
	}
	if out := outputs["broker exec dev -- terraform plan"]; out != "terraform plan as dev with a session in us-east-1\n" {
		t.Errorf("terraform got: %q", out)
	}
	if out := outputs["broker list"]; !strings.Contains(out, "dev") || !strings.Contains(out, "****"+u.keyID[len(u.keyID)-4:]) {
		t.Errorf("broker list printed:\n%s", out)
	}
	if n := len(w.calls("GetSessionToken")); n != 1 {
		t.Errorf("the quick start minted %d sessions, want 1 (the MFA code asked once)", n)
	}
	cfg, _ := os.ReadFile(w.config)
	for _, want := range []string{"[profile dev]", "mfa_serial = " + u.serial, "region = us-east-1", "credential_process = "} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("the config lacks %q:\n%s", want, cfg)
		}
	}
}

// TestPromptSnippet: the README's line for ~/.bashrc puts the profile of a
// `broker exec` shell in the prompt, and leaves other shells' alone.
func TestPromptSnippet(t *testing.T) {
	w := newWorld(t)
	snippet := strings.TrimSpace(readmeBlock(t, "### `broker exec`"))
	if strings.Count(snippet, "\n") != 0 || !strings.Contains(snippet, "BROKER_PROFILE") {
		t.Fatalf("the README's prompt snippet is not one line using BROKER_PROFILE: %q", snippet)
	}
	for _, shell := range []string{"sh", "bash"} {
		for profile, want := range map[string]string{"dev": "(aws:dev) $ ", "": "$ "} {
			r := w.cmd([]string{"BROKER_PROFILE=" + profile}, shell, "-c", `PS1='$ '; `+snippet+`; printf %s "$PS1"`)
			if r.stdout != want {
				t.Errorf("%s with BROKER_PROFILE=%q: PS1 %q, want %q (%s)", shell, profile, r.stdout, want, r.stderr)
			}
		}
	}
}
