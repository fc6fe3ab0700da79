// Package moto runs moto's server (https://docs.getmoto.org) on loopback for
// integration tests, with its request recorder on, so a test can check both
// what broker got back and which STS and IAM calls it made.
//
//	srv := moto.Start(t)
//	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
//	keyID, secret := srv.NewUserKey(t, "alice")
//	serial := srv.NewMFADevice(t, "alice")
//	// ... run broker ...
//	if n := srv.Count(t, "GetSessionToken"); n != 1 { ... }
//
// Each Start launches its own moto_server on a port the kernel picks, so test
// packages running in parallel never share state. moto checks no keys until
// EnforceAuth.
//
// What moto 5.2 returns, for tests that check credentials or scan output for
// leaked secrets:
//   - GetSessionToken returns the same credentials to every caller on every
//     call: FixedSessionKeyID (AKIA..., not ASIA...), FixedSessionSecret and
//     FixedSessionToken, expiring after DurationSeconds (default 12h). It
//     checks neither SerialNumber nor TokenCode. GetCallerIdentity with them
//     says arn:aws:sts::123456789012:user/moto.
//   - AssumeRole returns fresh random ASIA... credentials on each call, for any
//     RoleArn, whether the role exists or not; GetCallerIdentity with them says
//     arn:aws:sts::123456789012:assumed-role/NAME/SESSION.
//   - Until EnforceAuth, any signature is accepted; a key moto's IAM does not
//     know runs in DefaultAccountID.
//
// Server.URL is a small proxy in front of moto_server: see proxy.go for why.
package moto

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Values moto 5.2 hands out; see the package comment.
const (
	DefaultAccountID   = "123456789012"
	Region             = "us-east-1"
	FixedSessionKeyID  = "AKIAIOSFODNN7EXAMPLE"
	FixedSessionSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
	FixedSessionToken  = "AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT+FvwqnKwRcOIfrRh3c/LTo6UDdyJwOOvEVPvLXCrrrUtdnniCEXAMPLE/IvU1dYUg2RVAJBanLiHb4IgRmpRV3zrkuWJOgQs8IZZaIv2BXIa2R4OlgkBN9bkUDNCJiBeb/AXlzBBko7b15fjrBs2+cTQtpZ3CYWFXG8C5zqx37wnOE49mRl/+OtkIKGO7fAE"
)

// RequireEnv names the variable that turns a missing moto_server from a
// skipped test into a failed one; scripts/test.sh sets it.
const RequireEnv = "BROKER_REQUIRE_INTEGRATION"

// startTimeout bounds how long moto_server may take to answer. Python imports
// are slow on a busy 2-core machine running `go test -race ./...`.
const startTimeout = 90 * time.Second

// Server is one running moto_server.
type Server struct {
	// URL is the base endpoint, http://127.0.0.1:PORT, for AWS_ENDPOINT_URL
	// or an SDK client's BaseEndpoint. It is a thin proxy to moto_server
	// that fixes the shape of moto's auth errors; see proxy.go.
	URL string
	// RecordDir holds every file moto writes: its request recording (which
	// contains request headers such as X-Amz-Security-Token, and bodies) and
	// its log. Secret scans of a test's files must skip it.
	RecordDir string

	motoURL    string // moto_server itself, for /moto-api/ calls
	recordFile string
	logFile    string
	http       *http.Client

	mu         sync.Mutex
	helper     aws.Credentials // signs the helpers' IAM calls
	helperKeys map[string]bool // every key ID the helpers signed with
}

// Start launches moto_server on 127.0.0.1 with the recorder on, waits until it
// answers and stops it when the test ends. Without moto_server on PATH the
// test is skipped, or fails when BROKER_REQUIRE_INTEGRATION=1.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		missing(t, "moto_server not found on PATH (it comes with `pip install 'moto[server]'`)")
	}

	dir := filepath.Join(t.TempDir(), "moto")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("moto: %v", err)
	}
	s := &Server{
		RecordDir:  dir,
		recordFile: filepath.Join(dir, "recording.jsonl"),
		logFile:    filepath.Join(dir, "moto_server.log"),
		http:       &http.Client{Timeout: 30 * time.Second},
	}
	s.resetHelper()

	// Port 0: the kernel picks a free port and werkzeug prints it, so there is
	// no window in which another process can take a port we chose.
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"MOTO_ENABLE_RECORDING=1",
		"MOTO_RECORDER_FILEPATH="+s.recordFile,
		"PYTHONUNBUFFERED=1",
	)
	cmd.Stdin = nil
	cmd.SysProcAttr = sysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	cmd.Stdout = cmd.Stderr // the pipe: moto's stdout goes to the log too
	logw, err := os.Create(s.logFile)
	if err != nil {
		t.Fatalf("moto: %v", err)
	}

	p := &process{cmd: cmd, done: make(chan struct{})}
	if err := p.start(); err != nil {
		logw.Close()
		t.Fatalf("moto: starting %s: %v", bin, err)
	}

	portc := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		defer logw.Close()
		copyLog(stderr, logw, portc)
	}()

	t.Cleanup(func() {
		p.stop()
		<-logDone
		if t.Failed() {
			if msgs := tail(s.logFile, 30); msgs != "" {
				t.Logf("moto_server's messages (its access log left out):\n%s", msgs)
			}
		}
	})

	select {
	case port := <-portc:
		s.motoURL = "http://127.0.0.1:" + port
	case <-p.done:
		<-logDone
		t.Fatalf("moto: moto_server exited before listening (%v):\n%s", p.err, tail(s.logFile, 30))
	case <-time.After(startTimeout):
		t.Fatalf("moto: moto_server printed no address within %v:\n%s", startTimeout, tail(s.logFile, 30))
	}

	// Recording is already on (MOTO_ENABLE_RECORDING); asking again doubles as
	// the readiness probe, and calls under /moto-api/recorder/ are not recorded.
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.post("/moto-api/recorder/start-recording")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto: %s does not answer: %v", s.motoURL, err)
		}
		select {
		case <-p.done:
			<-logDone
			t.Fatalf("moto: moto_server exited (%v):\n%s", p.err, tail(s.logFile, 30))
		case <-time.After(100 * time.Millisecond):
		}
	}

	url, stop, err := startProxy(s.motoURL)
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	t.Cleanup(stop) // runs before moto_server stops: cleanups run last first
	s.URL = url
	return s
}

// Reset wipes moto's state (users, keys, roles), turns EnforceAuth off and
// clears the recording.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	if err := s.postBody("/moto-api/reset-auth", "inf"); err != nil {
		t.Fatalf("moto: reset: %v", err)
	}
	// /moto-api/reset is itself recorded, so clear the recording after it.
	for _, path := range []string{"/moto-api/reset", "/moto-api/recorder/reset-recording"} {
		if err := s.post(path); err != nil {
			t.Fatalf("moto: reset: %v", err)
		}
	}
	s.resetHelper()
}

// resetHelper makes the helpers sign with HelperKeyID again, which only works
// while moto does not check keys.
func (s *Server) resetHelper() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.helper = aws.Credentials{AccessKeyID: HelperKeyID, SecretAccessKey: "test", Source: "moto"}
	if s.helperKeys == nil {
		s.helperKeys = map[string]bool{HelperKeyID: true}
	}
}

func (s *Server) post(path string) error { return s.postBody(path, "") }

func (s *Server) postBody(path, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.motoURL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("moto: %s, and %s=1 requires it", msg, RequireEnv)
	}
	t.Skipf("moto: %s; skipping (set %s=1 to fail instead)", msg, RequireEnv)
}

var runningOn = regexp.MustCompile(`Running on http://127\.0\.0\.1:(\d+)`)

// copyLog copies moto_server's stderr to w until EOF, sending the port of the
// first "Running on" line. It must keep reading: werkzeug logs every request
// there, and a full pipe would block moto.
func copyLog(r io.Reader, w io.Writer, portc chan<- string) {
	sent := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		w.Write(line)
		w.Write([]byte{'\n'})
		if !sent {
			if m := runningOn.FindSubmatch(line); m != nil {
				portc <- string(m[1])
				sent = true
			}
		}
	}
	// A line longer than the buffer stops the scanner; drain the rest.
	io.Copy(w, r)
}

// tail is the last n lines of moto_server's log that are not werkzeug's
// access log (one line per request, which would bury a traceback); the
// recorder has the requests.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != "" && !accessLine.MatchString(l) && !banner.MatchString(l) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// accessLine is werkzeug's log of one request:
// 127.0.0.1 - - [02/Dec/2026 09:55:12] "POST / HTTP/1.1" 200 -
var accessLine = regexp.MustCompile(`^\S+ - - \[[^\]]*\] "[A-Z]+ \S* HTTP/[0-9.]+" \d{3} `)

// banner is what werkzeug says on every start.
var banner = regexp.MustCompile(`^(WARNING: This is a development server\.| \* Running on |Press CTRL\+C to quit)`)

// process owns the moto_server child.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the child has exited
	err  error         // its exit status, valid after done
	once sync.Once
}

// start runs the child from a goroutine locked to its OS thread, which stays
// alive until the child exits: on Linux the child gets Pdeathsig, which fires
// when the thread that started it ends, so moto dies with a crashed test
// binary but never earlier.
func (p *process) start() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return <-started
}

func (p *process) stop() {
	p.once.Do(func() {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.cmd.Process.Kill()
		}
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
}
