package agent

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
)

// otherUser makes a local user with a random name, removed when the test
// ends, and returns its uid and gid.
func otherUser(t *testing.T) (uid, gid uint32) {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("needs root to add a local user")
		}
		t.Skip("needs root to add a local user")
	}
	b := make([]byte, 6)
	rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	name := "brk" + string(b)
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Errorf("userdel -r %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(u.Uid)
	g, _ := strconv.Atoi(u.Gid)
	return uint32(id), uint32(g)
}

// probe connects to sock as uid and asks for the agent's status; it prints
// what happened: "refused …", "closed" or "answered …".
const probe = `
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("refused", e.errno); sys.exit(0)
try:
    s.sendall(b'{"op":"status"}\n')
    data = s.recv(4096)
except OSError as e:
    print("closed", e.errno); sys.exit(0)
print("answered " + data.decode() if data else "closed")
`

func probeAs(t *testing.T, uid, gid uint32, sock string) string {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c", probe, sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// Another user is refused twice over: the folder keeps them out, and were
// it opened to them (here on purpose, with the agent told not to notice),
// the agent checks the peer's uid and closes without a word.
func TestOtherUserRefused(t *testing.T) {
	uid, gid := otherUser(t)
	root := shortTempDir(t)
	dir := filepath.Join(root, "broker", "agent")
	s := &Server{Dir: dir, Idle: time.Hour, CheckEvery: time.Hour, Logf: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, func() bool {
		c, err := wire.Dial(dir)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	sock := filepath.Join(dir, wire.SocketName)
	if got := probeAs(t, uid, gid, sock); !strings.HasPrefix(got, "refused 13") {
		t.Fatalf("another user through the private folder: %q, want refused (EACCES)", got)
	}
	for _, p := range []string{root, filepath.Dir(dir), dir} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(sock, 0o666)
	if got := probeAs(t, uid, gid, sock); got != "closed" && !strings.HasPrefix(got, "closed ") {
		t.Fatalf("another user at an open socket: %q, want closed without an answer", got)
	}
	// The agent's own user still gets answers.
	c := dialUnchecked(t, sock)
	defer c.Close()
	c.Write([]byte(`{"op":"status"}` + "\n"))
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := c.Read(buf); !strings.Contains(string(buf[:n]), `"status":"ok"`) {
		t.Fatalf("the owner got %q", buf[:n])
	}
}

// dialUnchecked connects without wire.Dial's folder checks (the test
// opened the folder on purpose).
func dialUnchecked(t *testing.T, sock string) *net.UnixConn {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
