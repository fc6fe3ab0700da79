//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/broker-dev/broker/vault"
)

// secretsChild is the child of `broker exec --server`: it fetches the
// credentials from the endpoint as an SDK would, and records what it was
// served, every process's argv and its own environment into the folder
// named by its argument.
const secretsChild = `import json, os, subprocess, sys, urllib.request
d = sys.argv[1]
req = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                             headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
with urllib.request.urlopen(req, timeout=30) as r:
    served = r.read()
with open(os.path.join(d, "served.json"), "wb") as f:
    f.write(served)
with open(os.path.join(d, "argv-server"), "w") as f:
    f.write(subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout)
with open(os.path.join(d, "env-server.json"), "w") as f:
    json.dump(dict(os.environ), f)
`

// TestNoSecretAnywhere runs every command that touches a secret (add,
// setup, the AWS CLI through credential_process, export in both formats,
// exec, exec --server, rotate, revoke, import, clear, remove) in one world,
// and then looks for every long-term secret and every session secret and
// token seen on the way: in the home, runtime and temp folders, in every
// other file of the test (moto's recording aside), in
// every argv seen while broker worked, and in the environment of every
// child broker started. A child of exec holds only the session it was
// given; a child of exec --server and an mfa_process hold none.
func TestNoSecretAnywhere(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.newUser("alice"), w.newUser("bob")
	role := w.aws.NewRole(t, "deployer")
	// Records of what children saw; outside the folders scanned for files,
	// as the exec child's environment rightly holds its session.
	dumps := filepath.Join(w.root, "dumps")
	if err := os.Mkdir(dumps, 0o700); err != nil {
		t.Fatal(err)
	}
	mfaProcess := func(code string) string {
		return fmt.Sprintf(`sh -c 'ps -eo pid=,ppid=,args= >> %[1]s/argv-mfa; env >> %[1]s/env-mfa; echo asked >> %[2]s; echo %[3]s'`,
			dumps, w.mfaLog, code)
	}
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile deploy]
source_profile = dev
role_arn = %s
region = eu-central-1

[profile ops]
region = eu-west-1
mfa_serial = %s
mfa_process = %s
`, alice.serial, mfaProcess("123456"), role, bob.serial, mfaProcess("654321")))

	longTerm := map[string]string{"alice's first": alice.secret, "bob's": bob.secret}
	sessions := map[string]string{} // what → a session secret or token
	export := func(when, profile string) exported {
		t.Helper()
		e := decodeExport(t, w.mustBroker("export", profile))
		sessions[when+" "+profile+" secret"] = e.SecretAccessKey
		sessions[when+" "+profile+" token"] = e.SessionToken
		return e
	}
	// The keychain, opened in this process as broker opens it: the only way
	// to learn the secrets rotate and revoke create.
	var service string
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "BROKER_KEYRING_SERVICE="); ok {
			service = v
		}
	}
	storedSecret := func(profile string) string {
		t.Helper()
		v, err := vault.Open(vault.Options{Backend: w.backend, Service: service})
		if err != nil {
			t.Fatalf("opening the keychain in the test: %v", err)
		}
		k, err := v.Key(profile)
		if err != nil {
			t.Fatalf("reading the key of %s: %v", profile, err)
		}
		return k.SecretAccessKey
	}

	// add, setup, the AWS CLI.
	w.addKey("dev", alice)
	w.mustBroker("setup", "dev")
	w.mustBroker("setup", "deploy")
	for _, p := range []string{"dev", "deploy"} {
		if r := w.cmd(nil, "aws", "--profile", p, "sts", "get-caller-identity"); r.code != 0 {
			t.Fatalf("aws --profile %s: exit %d: %s", p, r.code, r.stderr)
		}
	}
	// export, both formats.
	dev := export("first", "dev")
	export("first", "deploy")
	if env := w.mustBroker("export", "--format", "env", "dev"); !strings.Contains(env, dev.SessionToken) {
		t.Errorf("export --format env does not carry dev's session")
	}

	// Another user's program holding the same session (moto hands everyone
	// the same fixed credentials) in its argv, outside this test's process
	// tree: the scans below must not count it.
	stranger(t, dev.SecretAccessKey)

	// exec: the child records every argv and its environment.
	r := w.cmd(nil, brokerBin, "exec", "dev", "--", "sh", "-c",
		fmt.Sprintf("ps -eo pid=,ppid=,args= > %[1]s/argv-exec; env > %[1]s/env-exec", dumps))
	if r.code != 0 {
		t.Fatalf("exec: exit %d: %s", r.code, r.stderr)
	}
	given := []string{dev.SecretAccessKey, dev.SessionToken} // what the exec child may hold

	// exec --server: the child fetches from the endpoint and records.
	r = w.cmd(nil, brokerBin, "exec", "--server", "deploy", "--", "python3", "-c", secretsChild, dumps)
	if r.code != 0 {
		t.Fatalf("exec --server: exit %d: %s", r.code, r.stderr)
	}
	var served struct{ SecretAccessKey, Token string }
	if err := json.Unmarshal(readDump(t, dumps, "served.json"), &served); err != nil || served.Token == "" {
		t.Fatalf("the --server child was served no credentials (%v)", err)
	}
	sessions["served deploy secret"], sessions["served deploy token"] = served.SecretAccessKey, served.Token
	var serverEnv map[string]string
	if err := json.Unmarshal(readDump(t, dumps, "env-server.json"), &serverEnv); err != nil {
		t.Fatal(err)
	}
	serverToken := serverEnv["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	if len(serverToken) != 64 {
		t.Fatalf("the --server child's token is %d characters", len(serverToken))
	}

	// rotate: a new key, its secret known only to the keychain.
	if _, errOut, code := w.broker("rotate", "--yes", "dev"); code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	longTerm["alice's rotated"] = storedSecret("dev")
	export("rotated", "dev")
	export("rotated", "deploy")

	// revoke: the key goes inactive, a replacement takes its place.
	if _, errOut, code := w.broker("revoke", "--yes", "dev"); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	longTerm["alice's replacement"] = storedSecret("dev")
	export("revoked", "dev")

	// import: bob's key leaves the credentials file for the keychain.
	creds := credentialsFile(t, w, "[ops]\naws_access_key_id = "+bob.keyID+"\naws_secret_access_key = "+bob.secret+"\n")
	if r := w.cmd(nil, brokerBin, "import", "--yes"); r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(creds); bytes.Contains(b, []byte(bob.secret)) {
		t.Fatal("the imported secret is still in the credentials file")
	}
	export("imported", "ops")
	w.mustBroker("list")
	w.mustBroker("list", "--json")

	// clear, remove.
	w.mustBroker("clear")
	w.mustBroker("remove", "--yes", "ops")
	w.mustBroker("remove", "--yes", "dev")

	all := map[string]string{"the --server token": serverToken}
	for what, s := range longTerm {
		all[what+" long-term secret"] = s
	}
	for what, s := range sessions {
		all[what] = s
	}
	distinct := map[string]bool{}
	for _, s := range longTerm {
		distinct[s] = true
	}
	if len(distinct) != 4 {
		t.Fatalf("%d different long-term secrets, want 4: rotate or revoke kept a key", len(distinct))
	}
	for what, s := range all {
		if len(s) < 16 {
			t.Fatalf("%s is %q: too short to look for", what, s)
		}
	}
	secrets := make([]string, 0, len(all))
	for _, s := range all {
		secrets = append(secrets, s)
	}

	// Files: the world's folders, then the rest of the test's own temp
	// folders (the world's root, moto's), but the dumps and moto's
	// recording. Not all of /tmp: moto's GetSessionToken answers are the
	// same fixed credentials in every test, so another test's files would
	// hold them.
	w.scanForSecrets(secrets...)
	scanned := 0
	for _, root := range []string{w.root, filepath.Dir(w.aws.RecordDir)} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				switch path {
				case dumps, w.aws.RecordDir, w.home, w.run, w.tmp: // scanned above, or allowed
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			scanned++
			for what, s := range all {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %s", path, what)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d other files of the test hold no secret", scanned)
	// The scan can see: moto's recording holds the role session's token,
	// which signed the AWS CLI's call; it is the one place outside the
	// dumps a token may be.
	recorded := false
	_ = filepath.WalkDir(w.aws.RecordDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			recorded = recorded || bytes.Contains(b, []byte(sessions["first deploy token"]))
		}
		return nil
	})
	if !recorded {
		t.Error("moto's recording does not hold deploy's session token: the scan would not see one")
	}

	// Every argv seen in this test's process tree: no secret at all.
	for _, name := range []string{"argv-mfa", "argv-exec", "argv-server"} {
		b := ownProcesses(readDump(t, dumps, name), os.Getpid())
		// exec replaces broker by the child; elsewhere broker is running.
		if !bytes.Contains(b, []byte(brokerBin)) && name != "argv-exec" {
			t.Errorf("%s: broker's own process is not in the listing", name)
		}
		for what, s := range all {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s: %s is in some process's argv", name, what)
			}
		}
	}
	// Environments: an mfa_process holds nothing; the exec child only its
	// session; the --server child only its token.
	for what, s := range all {
		if bytes.Contains(readDump(t, dumps, "env-mfa"), []byte(s)) {
			t.Errorf("an mfa_process's environment holds %s", what)
		}
		if bytes.Contains(readDump(t, dumps, "env-exec"), []byte(s)) && s != given[0] && s != given[1] {
			t.Errorf("the exec child's environment holds %s", what)
		}
		for name, v := range serverEnv {
			if strings.Contains(v, s) && !(name == "AWS_CONTAINER_AUTHORIZATION_TOKEN" && s == serverToken) {
				t.Errorf("the --server child's %s holds %s", name, what)
			}
		}
	}
	if env := string(readDump(t, dumps, "env-exec")); !strings.Contains(env, "AWS_SESSION_TOKEN="+dev.SessionToken+"\n") {
		t.Error("the exec child did not get dev's session: the check above proves nothing")
	}
	if n := strings.Count(string(readDump(t, dumps, "argv-mfa")), "ps -eo pid=,ppid=,args="); n < 4 {
		t.Errorf("mfa_process ran %d times, want at least 4 (first, rotate, revoke, import)", n)
	}
}

func readDump(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || len(b) == 0 {
		t.Fatalf("%s was not recorded: %v", name, err)
	}
	return b
}

// ownProcesses keeps the lines of a `ps -eo pid=,ppid=,args=` listing whose
// process descends from root (the test), each as its args.
func ownProcesses(listing []byte, root int) []byte {
	parent := map[int]int{}
	args := map[int]string{}
	var order []int
	for _, line := range strings.Split(string(listing), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		ppid, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		if _, dup := args[pid]; !dup {
			order = append(order, pid)
		}
		parent[pid] = ppid
		_, rest, _ := strings.Cut(strings.TrimSpace(line), f[1])
		args[pid] = strings.TrimSpace(rest)
	}
	var out strings.Builder
	for _, pid := range order {
		for p, hops := pid, 0; p > 1 && hops < 1000; p, hops = parent[p], hops+1 {
			if p == root {
				out.WriteString(args[pid] + "\n")
				break
			}
		}
	}
	return []byte(out.String())
}

// stranger starts a process outside the test's tree (its parent exits at
// once, so it is re-parented) with secret in its argv, and ends it when
// the test does.
func stranger(t *testing.T, secret string) {
	t.Helper()
	out, err := exec.Command("sh", "-c", `python3 -c 'import time; time.sleep(300)' "$1" >/dev/null 2>&1 & echo $!`, "sh", secret).Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
}
