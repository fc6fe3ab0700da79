//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The user files broker edits (~/.aws/config and ~/.aws/credentials) under
// hostile conditions: two brokers at once, `aws configure set` at the same
// time, kill -9, root editing a user's file, links.

// newLocalWorld is a world with no AWS: for commands that only edit files
// and the keychain. The endpoint refuses connections, so a stray AWS call
// fails at once.
func newLocalWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, root: t.TempDir()}
	w.home = filepath.Join(w.root, "home")
	w.run = filepath.Join(w.root, "run")
	w.tmp = filepath.Join(w.root, "tmp")
	for _, d := range []string{w.home, w.run, w.tmp, filepath.Join(w.home, ".aws")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w.config = filepath.Join(w.home, ".aws", "config")
	w.backend = testBackend(t)
	w.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.home,
		"XDG_RUNTIME_DIR=" + w.run,
		"TMPDIR=" + w.tmp,
		"LANG=C.UTF-8",
		"AWS_CONFIG_FILE=" + w.config,
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(w.home, ".aws", "credentials"),
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_EC2_METADATA_DISABLED=true",
		"BROKER_BACKEND=" + w.backend,
		"BROKER_KEYRING_SERVICE=brokertest-" + randomHex(t, 6),
	}
	if bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); bus != "" {
		w.env = append(w.env, "DBUS_SESSION_BUS_ADDRESS="+bus)
	}
	t.Cleanup(func() {
		out, _, _ := w.broker("list", "--json")
		for _, name := range profilesWithKeys(out) {
			w.broker("remove", "--yes", name)
		}
	})
	return w
}

// start starts broker in the world without waiting for it.
func (w *world) start(args ...string) *exec.Cmd {
	w.t.Helper()
	c := exec.Command(brokerBin, args...)
	c.Env = w.env
	c.Dir = w.home
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	return c
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConcurrentSetups is issue 8.1: two `broker setup` of different
// profiles at once, 30 times; both edits survive every time.
func TestConcurrentSetups(t *testing.T) {
	w := newLocalWorld(t)
	line := func(p string) string { return "credential_process = " + clientBin + " " + p }
	for round := range 30 {
		w.writeConfig("[profile a]\nregion = eu-west-1\n\n[profile b]\nregion = eu-west-2\n")
		a, b := w.start("setup", "a"), w.start("setup", "b")
		errA, errB := a.Wait(), b.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: setup a: %v, setup b: %v\n%s%s", round, errA, errB, a.Stdout, b.Stdout)
		}
		cfg := readText(t, w.config)
		if !strings.Contains(cfg, line("a")) || !strings.Contains(cfg, line("b")) {
			t.Fatalf("round %d: an edit was lost; both setups exited 0:\n%s", round, cfg)
		}
	}
}

// awsCLI is the AWS CLI's own `configure set` (awscli's driver), run in
// one Python process fed over a pipe, so that a call takes milliseconds,
// not the CLI's start-up time.
type awsCLI struct {
	t       *testing.T
	in      io.WriteCloser
	answers *bufio.Scanner
	errOut  bytes.Buffer
}

func startAWSCLI(t *testing.T, env []string) *awsCLI {
	const script = `
import sys
from awscli.clidriver import create_clidriver
driver = create_clidriver()
for line in sys.stdin:
    profile, key, value = line.split()
    print(driver.main(["configure", "set", key, value, "--profile", profile]), flush=True)
`
	if err := exec.Command("python3", "-c", "import awscli").Run(); err != nil {
		t.Fatalf("the AWS CLI's Python package: %v", err)
	}
	a := &awsCLI{t: t}
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = env
	cmd.Stderr = &a.errOut
	var err error
	if a.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.in.Close(); cmd.Wait() })
	a.answers = bufio.NewScanner(out)
	return a
}

// set runs `aws configure set KEY VALUE --profile PROFILE`.
func (a *awsCLI) set(profile, key, value string) {
	a.t.Helper()
	fmt.Fprintf(a.in, "%s %s %s\n", profile, key, value)
	if !a.answers.Scan() || a.answers.Text() != "0" {
		a.t.Fatalf("aws configure set %s: %q %s", key, a.answers.Text(), a.errOut.String())
	}
}

// duringEdit runs broker with args, freezes it with SIGSTOP just after it
// has opened file (in ~/.aws) the nth time, runs meanwhile, and lets it go
// on; broker must succeed.
func (w *world) duringEdit(file string, nth int, meanwhile func(), args ...string) {
	w.t.Helper()
	watch := newDirWatch(w.t, filepath.Join(w.home, ".aws"))
	c := w.start(args...)
	if !watch.waitOpens(file, nth, 10*time.Second) {
		c.Wait()
		w.t.Fatalf("broker %s did not open %s %d times: %s", strings.Join(args, " "), file, nth, c.Stdout)
	}
	c.Process.Signal(syscall.SIGSTOP)
	watch.close()
	meanwhile()
	c.Process.Signal(syscall.SIGCONT)
	if err := c.Wait(); err != nil {
		w.t.Fatalf("broker %s: %v: %s", strings.Join(args, " "), err, c.Stdout)
	}
}

// TestAWSConfigureSetDuringEdit is issue 8.2 with the real AWS CLI: while
// broker is between its read of a file and its rename (frozen just after
// it opens the file to edit it), `aws configure set` rewrites the file in
// place; then broker goes on. Both edits survive every round: `setup` and
// the config, 20 rounds; `import` and a secret that `aws configure set`
// writes into the credentials file, 10 rounds.
func TestAWSConfigureSetDuringEdit(t *testing.T) {
	t.Run("setup", func(t *testing.T) {
		t.Parallel()
		w := newLocalWorld(t)
		var cfg strings.Builder
		cfg.WriteString("[profile cli]\nregion = eu-west-1\n")
		for i := range 20 {
			fmt.Fprintf(&cfg, "\n[profile p%d]\nregion = eu-west-1\n", i)
		}
		w.writeConfig(cfg.String())
		aws := startAWSCLI(t, w.env)
		aws.set("cli", "warmup", "1")
		for i := range 20 {
			// Opens: the config's load, the check that the profile is
			// there, then the edit's read.
			w.duringEdit("config", 3, func() { aws.set("cli", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)) },
				"setup", fmt.Sprintf("p%d", i))
			final := readText(t, w.config)
			if !strings.Contains(final, fmt.Sprintf("k%d = v%d\n", i, i)) {
				t.Errorf("round %d: k%d = v%d, written by aws configure set, was lost", i, i, i)
			}
			if !strings.Contains(final, "credential_process = "+clientBin+fmt.Sprintf(" p%d\n", i)) {
				t.Errorf("round %d: broker's edit was lost", i)
			}
		}
	})
	t.Run("import", func(t *testing.T) {
		t.Parallel()
		w := newLocalWorld(t)
		w.writeConfig("[profile dev]\nmfa_serial = arn:aws:iam::000000000000:mfa/dev\n")
		creds := filepath.Join(w.home, ".aws", "credentials")
		aws := startAWSCLI(t, w.env)
		aws.set("warmup", "region", "eu-west-1")
		const id, secret = "AKIAQX0FAKEKEY0RACED", "raCedSECRETraCedSECRETraCedSECRETraCed0+/"
		for i := range 10 {
			if err := os.WriteFile(creds, []byte("[dev]\naws_access_key_id = "+id+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			other := fmt.Sprintf("otherSECRET%02dotherSECRETotherSECRET0+/x", i)
			// Opens: import's read, then the edit's read.
			w.duringEdit("credentials", 2, func() { aws.set("other", "aws_secret_access_key", other) }, "import", "--yes", "--no-verify")
			final := readText(t, creds)
			if !strings.Contains(final, other) {
				t.Errorf("round %d: the secret aws configure set wrote was lost:\n%s", i, final)
			}
			if strings.Contains(final, secret) {
				t.Errorf("round %d: the imported key is still in the file", i)
			}
		}
	})
}

// copiesOf lists the files under the world's home and temp folders (moto's
// recordings aside) that hold secret.
func (w *world) copiesOf(secret string) []string {
	w.t.Helper()
	var found []string
	for _, dir := range []string{w.home, w.tmp} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(secret)) {
				found = append(found, path)
			}
			return nil
		})
	}
	return found
}

// killAtRandom runs broker with args and kills it with SIGKILL at a random
// point: after a random delay up to max; or a random moment (up to 3 ms)
// after one of its first file events in ~/.aws (opening, closing,
// creating or renaming a file there); or after it first makes a file
// there.
func (w *world) killAtRandom(max time.Duration, args ...string) {
	w.t.Helper()
	watch := newDirWatch(w.t, filepath.Join(w.home, ".aws"))
	defer watch.close()
	c := w.start(args...)
	switch rand.IntN(3) {
	case 0:
		time.Sleep(rand.N(max))
	case 1:
		watch.waitEvents(1+rand.IntN(12), false, max)
		time.Sleep(rand.N(3 * time.Millisecond))
	case 2:
		watch.waitEvents(1, true, max)
		time.Sleep(rand.N(3 * time.Millisecond))
	}
	c.Process.Signal(syscall.SIGKILL)
	c.Wait()
}

// TestKilledEditsLeaveNoCopy is issue 8.3: `broker import` and `broker
// setup` are killed with SIGKILL at random points, 24 rounds each. No copy
// of a secret outlives the next command: after it, the secrets are only
// where the user keeps them.
func TestKilledEditsLeaveNoCopy(t *testing.T) {
	t.Run("import", func(t *testing.T) {
		t.Parallel()
		w := newLocalWorld(t)
		id, secret := "AKIAQX0FAKEKEY0KILLS", "kiLLedSECRETkiLLedSECRETkiLLedSECRET0+/x"
		w.writeConfig("[profile dev]\nmfa_serial = arn:aws:iam::000000000000:mfa/dev\n")
		creds := filepath.Join(w.home, ".aws", "credentials")
		text := "[dev]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\nregion = eu-west-1\n\n" +
			"[temp]\naws_access_key_id = " + tempID + "\naws_secret_access_key = " + tempSecret + "\naws_session_token = " + tempToken + "\n"
		began := time.Now()
		w.mustBroker("import", "--yes", "--no-verify")
		full := time.Since(began)
		immediate := 0
		for round := range 24 {
			if err := os.WriteFile(creds, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			w.killAtRandom(full, "import", "--yes", "--no-verify")
			for _, p := range w.copiesOf(tempSecret) {
				if p != creds {
					immediate++
				}
			}
			if _, stderr, code := w.broker("import", "--yes", "--no-verify"); code != 0 {
				t.Fatalf("round %d: the import after a killed one: exit %d\n%s", round, code, stderr)
			}
			if c := w.copiesOf(secret); len(c) != 0 {
				t.Fatalf("round %d: the imported secret is still in %v", round, c)
			}
			if c := w.copiesOf(tempSecret); len(c) != 1 || c[0] != creds {
				t.Fatalf("round %d: the credentials file's other secret is in %v", round, c)
			}
		}
		t.Logf("copies found right after a kill, before the next command: %d", immediate)
	})
	t.Run("setup", func(t *testing.T) {
		t.Parallel()
		w := newLocalWorld(t)
		// Keys in the config: allowed by the AWS CLI, and what a copy
		// of the config would leak.
		const secret = "cOnfigSECRETcOnfigSECRETcOnfigSECRET0+/x"
		text := "[profile dev]\nregion = eu-west-1\n\n[profile legacy]\naws_access_key_id = AKIAQX0FAKEKEY0LEGCY\naws_secret_access_key = " + secret + "\n"
		began := time.Now()
		w.writeConfig(text)
		w.mustBroker("setup", "dev")
		full := time.Since(began)
		for round := range 24 {
			w.writeConfig(text)
			w.killAtRandom(full, "setup", "dev")
			w.writeConfig(text)
			w.mustBroker("setup", "dev")
			if c := w.copiesOf(secret); len(c) != 1 || c[0] != w.config {
				t.Fatalf("round %d: the config's secret is in %v", round, c)
			}
		}
	})
}

// dirWatch counts inotify events in a folder.
type dirWatch struct {
	fd      int
	events  int
	created int
	opens   map[string]int
}

func newDirWatch(t *testing.T, dir string) *dirWatch {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_OPEN|syscall.IN_CREATE|syscall.IN_MOVED_TO|syscall.IN_CLOSE_WRITE|syscall.IN_CLOSE_NOWRITE); err != nil {
		t.Fatal(err)
	}
	return &dirWatch{fd: fd, opens: map[string]int{}}
}

// read takes the events there are, and says whether there were any.
func (d *dirWatch) read(buf []byte) bool {
	k, err := syscall.Read(d.fd, buf)
	if err != nil || k <= 0 {
		return false
	}
	for off := 0; off+syscall.SizeofInotifyEvent <= k; d.events++ {
		ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
		if ev.Mask&syscall.IN_CREATE != 0 {
			d.created++
		}
		if ev.Mask&syscall.IN_OPEN != 0 {
			d.opens[string(bytes.TrimRight(name, "\x00"))]++
		}
		off += syscall.SizeofInotifyEvent + int(ev.Len)
	}
	return true
}

// waitEvents waits for n events (or, with created, n files made), at most
// max.
func (d *dirWatch) waitEvents(n int, created bool, max time.Duration) {
	buf := make([]byte, 64<<10)
	for deadline := time.Now().Add(max); time.Now().Before(deadline); {
		if !created && d.events >= n || created && d.created >= n {
			return
		}
		if !d.read(buf) {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// waitOpens waits until the file name was opened n times, at most max.
func (d *dirWatch) waitOpens(name string, n int, max time.Duration) bool {
	buf := make([]byte, 64<<10)
	for deadline := time.Now().Add(max); d.opens[name] < n; {
		if time.Now().After(deadline) {
			return false
		}
		if !d.read(buf) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	return true
}

func (d *dirWatch) close() { syscall.Close(d.fd) }

// TestMalformedHeadersRefused is issue 8.5 at the command line: setup
// refuses a header botocore reads as another profile or none, with the
// file and line, and writes nothing.
func TestMalformedHeadersRefused(t *testing.T) {
	w := newLocalWorld(t)
	for _, header := range []string{"[profile a]]", "[ profile  a ]", "[default ]"} {
		text := "# mine\n" + header + "\nregion = eu-west-1\n"
		w.writeConfig(text)
		assertFailure(t, w.cmd(nil, brokerBin, "setup", "a"), w.config+":2: ")
		if readText(t, w.config) != text {
			t.Errorf("%s: setup changed the file", header)
		}
	}
}
