// The probe runs on Linux only (init returns at once elsewhere), and the
// tests use abstract sockets and SIGSTOP.

package busguard

import (
	"bufio"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/broker-dev/broker/internal/testbus"
)

// listen serves connections to the unix socket name (a path, or "@name"
// for an abstract one) with serve, each in its own goroutine, until the
// test ends; stop is closed then.
func listen(t testing.TB, name string, serve func(c net.Conn, stop <-chan struct{})) {
	t.Helper()
	l, err := net.Listen("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() { l.Close(); close(stop); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); serve(c, stop) }()
		}
	}()
}

// silence never writes to a connection, as something that is not a bus,
// or a hung one.
func silence(_ net.Conn, stop <-chan struct{}) { <-stop }

// reply reads the first line and answers it with answer, recording the
// line read.
func reply(answer string, got chan<- string) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, _ <-chan struct{}) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		select {
		case got <- line:
		default:
		}
		c.Write([]byte(answer))
	}
}

func TestAnswers(t *testing.T) {
	dir := t.TempDir()
	sock := func(name string) string { return filepath.Join(dir, name) }
	got := make(chan string, 1)
	abstract := "busguard-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	listen(t, sock("silent"), silence)
	listen(t, "@"+abstract, silence)
	listen(t, sock("ok"), reply("OK 0123456789abcdef0123456789abcdef\r\n", got))
	listen(t, sock("rejected"), reply("REJECTED EXTERNAL\r\n", nil))
	listen(t, sock("half"), func(c net.Conn, stop <-chan struct{}) {
		reply("OK 0123", nil)(c, stop) // and then nothing
		<-stop
	})
	listen(t, sock("closes"), func(net.Conn, <-chan struct{}) {})
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock("dead"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()

	// A bus that answers does so at once, however long the deadline; one
	// that does not never does, however short.
	const long, short = time.Minute, 100 * time.Millisecond
	for _, c := range []struct {
		name, address string
		answers       bool
	}{
		{"silent socket", "unix:path=" + sock("silent"), false},
		{"silent abstract socket", "unix:abstract=" + abstract + ",guid=0123", false},
		{"half a line, then silence", "unix:path=" + sock("half"), false},
		{"a dead socket, then a silent one", "unix:path=" + sock("dead") + ";unix:path=" + sock("silent"), false},
		{"OK", "unix:path=" + sock("ok") + ",guid=0123", true},
		{"REJECTED", "unix:path=" + sock("rejected"), true},
		{"closed at once", "unix:path=" + sock("closes"), true},
		{"nobody listens", "unix:path=" + sock("dead"), true},
		{"no such socket", "unix:path=" + sock("none"), true},
		{"an answering socket, then a silent one", "unix:path=" + sock("ok") + ";unix:path=" + sock("silent"), true},
		{"tcp is not probed", "tcp:host=127.0.0.1,port=1", true},
		{"path and abstract: godbus dials neither", "unix:path=" + sock("silent") + ",abstract=" + abstract, true},
		{"disabled", "disabled:", true},
	} {
		d := long
		if !c.answers {
			d = short
		}
		if a := answers(c.address, 4242, d); a != c.answers {
			t.Errorf("%s: answers(%q) = %v, want %v", c.name, c.address, a, c.answers)
		}
	}
	// What it sent: godbus's first bytes, with AUTH EXTERNAL and the uid.
	select {
	case line := <-got:
		if want := "\x00AUTH EXTERNAL " + hex.EncodeToString([]byte("4242")) + "\r\n"; line != want {
			t.Errorf("the probe sent %q, want %q", line, want)
		}
	default:
		t.Error("the probe sent no line")
	}
}

// TestAnswersDBusDaemon: a real dbus-daemon answers; stopped, it does not.
func TestAnswersDBusDaemon(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed")
	}
	dir := t.TempDir()
	if addr := testbus.Bare(t, dir); !answers(addr, os.Getuid(), time.Minute) {
		t.Errorf("a running dbus-daemon at %s does not answer", addr)
	}
	if addr := testbus.Stopped(t, dir); answers(addr, os.Getuid(), 100*time.Millisecond) {
		t.Errorf("a stopped dbus-daemon at %s answers", addr)
	}
}

// BenchmarkAnswers is what the probe adds to every broker command on a
// live bus.
func BenchmarkAnswers(b *testing.B) {
	addr := testbus.Bare(b, b.TempDir())
	for b.Loop() {
		if !answers(addr, os.Getuid(), probeDeadline) {
			b.Fatal("the bus does not answer")
		}
	}
}
