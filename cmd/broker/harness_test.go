//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/moto"
)

// The CLI tests run the real binary against real parts: moto_server for STS
// and IAM, the Secret Service (or the kernel keyring) for the keychain, and
// the machine's aws CLI, boto3 and aws-sdk-go-v2 as clients.

var brokerBin, clientBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "broker-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	brokerBin = filepath.Join(dir, "broker")
	// Built as install.sh builds it, so the tests run what ships.
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", brokerBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building broker:", err)
		os.Exit(1)
	}
	// The credential_process client, beside broker as install.sh puts it.
	clientBin = filepath.Join(dir, "broker-credential-process")
	build = exec.Command("go", "build", "-o", clientBin, "../broker-credential-process")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building broker-credential-process:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one user's machine: a home, runtime and temp folder of its own, a
// keychain namespace of its own, and moto as AWS.
type world struct {
	t       *testing.T
	aws     *moto.Server
	root    string
	home    string
	run     string
	tmp     string
	config  string
	mfaLog  string
	backend string
	env     []string
	// limit is how long a command may run before it is killed and the
	// test fails: a guard against hangs, never a timing (0: 2 minutes).
	limit time.Duration

	viaAsks   int    // MFA codes the last sameAsDirect's client call asked
	viaSigner string // the key that signed the last GetSessionToken by then
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, aws: moto.Start(t), root: t.TempDir()}
	w.home = filepath.Join(w.root, "home")
	w.run = filepath.Join(w.root, "run")
	w.tmp = filepath.Join(w.root, "tmp")
	for _, d := range []string{w.home, w.run, w.tmp, filepath.Join(w.home, ".aws")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w.config = filepath.Join(w.home, ".aws", "config")
	w.mfaLog = filepath.Join(w.root, "mfa-asked")
	w.backend = testBackend(t)
	w.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.home,
		"XDG_RUNTIME_DIR=" + w.run,
		"TMPDIR=" + w.tmp,
		"LANG=C.UTF-8",
		"AWS_CONFIG_FILE=" + w.config,
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.home, ".aws", "credentials"),
		"AWS_ENDPOINT_URL=" + w.aws.URL,
		"AWS_EC2_METADATA_DISABLED=true",
		"BROKER_BACKEND=" + w.backend,
		"BROKER_KEYRING_SERVICE=brokertest-" + randomHex(t, 6),
	}
	if bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); bus != "" {
		w.env = append(w.env, "DBUS_SESSION_BUS_ADDRESS="+bus)
	}
	t.Cleanup(func() {
		// Leave the shared keychain as it was found.
		w.broker("clear")
		out, _, _ := w.broker("list", "--json")
		for _, name := range profilesWithKeys(out) {
			w.broker("remove", "--yes", name)
		}
		w.stopAgent()
	})
	return w
}

// agentPID is the pid of the world's agent, 0 when none runs.
func (w *world) agentPID() int {
	out, _, code := w.broker("agent", "status")
	var pid int
	if code != 0 || !strings.HasPrefix(out, "running: pid ") {
		return 0
	}
	fmt.Sscanf(strings.TrimPrefix(out, "running: pid "), "%d", &pid)
	return pid
}

// stopAgent ends the agent the world's commands started, if any: asked
// first, then killed.
func (w *world) stopAgent() {
	pid := w.agentPID()
	if pid == 0 {
		return
	}
	if _, errOut, code := w.broker("agent", "stop"); code != 0 {
		w.t.Errorf("broker agent stop: exit %d: %s", code, errOut)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// testBackend is the Secret Service when a session bus is there, else the
// kernel keyring; BROKER_TEST_BACKEND overrides.
func testBackend(t *testing.T) string {
	if b := os.Getenv("BROKER_TEST_BACKEND"); b != "" {
		return b
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return "secret-service"
	}
	return "keyctl"
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

// broker runs the broker binary in the world.
func (w *world) broker(args ...string) (stdout, stderr string, code int) {
	r := w.cmd(nil, brokerBin, args...)
	return r.stdout, r.stderr, r.code
}

// cmd runs a program in the world, with extra environment variables.
func (w *world) cmd(extraEnv []string, name string, args ...string) result {
	w.t.Helper()
	limit := w.limit
	if limit == 0 {
		limit = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(append([]string{}, w.env...), extraEnv...)
	c.Dir = w.home
	// A session of its own: no controlling terminal, as under the AWS CLI in CI.
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	if ctx.Err() != nil {
		w.t.Fatalf("%s %s: still running after %v, killed (it hangs)\nstderr: %s", name, strings.Join(args, " "), limit, errOut.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		w.t.Fatalf("running %s: %v", name, err)
	}
	return result{out.String(), errOut.String(), code}
}

// mustBroker runs broker and fails the test unless it succeeds.
func (w *world) mustBroker(args ...string) string {
	w.t.Helper()
	out, errOut, code := w.broker(args...)
	if code != 0 {
		w.t.Fatalf("broker %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (w *world) writeConfig(text string) {
	w.t.Helper()
	if err := os.WriteFile(w.config, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// mfaProcess is an mfa_process that counts how often it is asked.
func (w *world) mfaProcess(code string) string {
	return fmt.Sprintf("sh -c 'echo asked >> %s; echo %s'", w.mfaLog, code)
}

// mfaAsks is how often an MFA code was asked for.
func (w *world) mfaAsks() int {
	b, err := os.ReadFile(w.mfaLog)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Count(string(b), "asked")
}

// user is an IAM user in moto with a long-term key and an MFA device.
type user struct {
	keyID, secret, serial string
}

func (w *world) newUser(name string) user {
	id, secret := w.aws.NewUserKey(w.t, name)
	return user{keyID: id, secret: secret, serial: w.aws.NewMFADevice(w.t, name)}
}

// addKey stores u's key for profile through `broker add --env`.
func (w *world) addKey(profile string, u user) {
	w.t.Helper()
	r := w.cmd([]string{"AWS_ACCESS_KEY_ID=" + u.keyID, "AWS_SECRET_ACCESS_KEY=" + u.secret},
		brokerBin, "add", "--env", profile)
	if r.code != 0 {
		w.t.Fatalf("broker add: exit %d: %s", r.code, r.stderr)
	}
}

// scanForSecrets fails if any file under the world's home, runtime or temp
// folders holds one of the secrets.
func (w *world) scanForSecrets(secrets ...string) {
	w.t.Helper()
	for _, dir := range []string{w.home, w.run, w.tmp} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, s := range secrets {
				if s != "" && bytes.Contains(b, []byte(s)) {
					w.t.Errorf("%s holds a secret", path)
				}
			}
			return nil
		})
		if err != nil {
			w.t.Fatal(err)
		}
	}
}

// profilesWithKeys picks the profiles with a stored key out of `list --json`.
func profilesWithKeys(listJSON string) []string {
	var names []string
	for _, r := range decodeList(listJSON) {
		if r.KeyID != "" {
			names = append(names, r.Name)
		}
	}
	return names
}

// calls are the requests moto received for an action.
func (w *world) calls(action string) []moto.Request {
	var out []moto.Request
	for _, r := range w.aws.Requests(w.t) {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}
