//go:build linux || darwin

package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/agent/wire"
)

// startAgent runs an agent in a private folder of the test's own, stopped
// when the test ends.
func startAgent(t *testing.T, idle time.Duration) (*Server, string) {
	t.Helper()
	return startServer(t, &Server{Idle: idle})
}

// startServer runs s in a private folder of the test's own.
func startServer(t *testing.T, s *Server) (*Server, string) {
	t.Helper()
	dir := filepath.Join(shortTempDir(t), "broker", "agent")
	s.Dir, s.Logf = dir, t.Logf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	waitFor(t, func() bool {
		c, err := wire.Dial(dir)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return s, dir
}

// shortTempDir is a temp folder with a path short enough for a socket.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ag")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dial(t *testing.T, dir string) *wire.Conn {
	t.Helper()
	c, err := wire.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func creds(id string) *wire.Credentials {
	return &wire.Credentials{AccessKeyID: id, SecretAccessKey: "s", SessionToken: "t", Expiration: time.Now().Add(time.Hour)}
}

func TestMinRemainingMatchesBroker(t *testing.T) {
	if wire.MinRemaining != broker.MinRemaining {
		t.Fatalf("wire.MinRemaining %s, broker.MinRemaining %s", wire.MinRemaining, broker.MinRemaining)
	}
}

// Thirty clients asking at once for a missing answer: one is told to mint,
// the others wait and get what it hands in.
func TestSingleFlight(t *testing.T) {
	_, dir := startAgent(t, time.Minute)
	var mints atomic.Int32
	var wg sync.WaitGroup
	got := make([]string, 30)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, dir)
			resp, err := c.Do(wire.Request{Op: wire.OpGet, Key: "k", Mint: true}, 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Status == wire.StatusMint {
				mints.Add(1)
				time.Sleep(50 * time.Millisecond) // the others pile up meanwhile
				if _, err := c.Do(wire.Request{Op: wire.OpPut, Key: "k", Creds: creds("ASIAMINTED")}, time.Second); err != nil {
					t.Error(err)
				}
				got[i] = "ASIAMINTED"
				return
			}
			if resp.Status != wire.StatusHit {
				t.Errorf("status %q", resp.Status)
				return
			}
			got[i] = resp.Creds.AccessKeyID
		}()
	}
	wg.Wait()
	if n := mints.Load(); n != 1 {
		t.Fatalf("%d clients were told to mint, want 1", n)
	}
	for i, id := range got {
		if id != "ASIAMINTED" {
			t.Errorf("client %d got %q", i, id)
		}
	}
}

// A minter that goes away without handing anything in passes the flight on.
func TestMinterGoneNextMints(t *testing.T) {
	_, dir := startAgent(t, time.Minute)
	first := dial(t, dir)
	if resp, err := first.Do(wire.Request{Op: wire.OpGet, Key: "k", Mint: true}, time.Second); err != nil || resp.Status != wire.StatusMint {
		t.Fatalf("first: %v %v", resp.Status, err)
	}
	second := dial(t, dir)
	result := make(chan string, 1)
	go func() {
		resp, err := second.Do(wire.Request{Op: wire.OpGet, Key: "k", Mint: true}, 10*time.Second)
		if err != nil {
			result <- err.Error()
			return
		}
		result <- resp.Status
	}()
	time.Sleep(50 * time.Millisecond)
	first.Close() // killed while minting
	if got := <-result; got != wire.StatusMint {
		t.Fatalf("the waiting client got %q, want mint", got)
	}
}

// invalidate drops every answer; get without Mint then misses.
func TestInvalidate(t *testing.T) {
	_, dir := startAgent(t, time.Minute)
	c := dial(t, dir)
	if _, err := c.Do(wire.Request{Op: wire.OpPut, Key: "k", Creds: creds("ASIAONE")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.Do(wire.Request{Op: wire.OpGet, Key: "k"}, time.Second); resp.Status != wire.StatusHit {
		t.Fatalf("before invalidate: %q", resp.Status)
	}
	if _, err := c.Do(wire.Request{Op: wire.OpInvalidate}, time.Second); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.Do(wire.Request{Op: wire.OpGet, Key: "k"}, time.Second); resp.Status != wire.StatusMiss {
		t.Fatalf("after invalidate: %q", resp.Status)
	}
}

// An answer with less than MinRemaining left is neither kept nor served.
func TestNearExpiryRefused(t *testing.T) {
	_, dir := startAgent(t, time.Minute)
	c := dial(t, dir)
	short := creds("ASIASHORT")
	short.Expiration = time.Now().Add(wire.MinRemaining - time.Minute)
	if _, err := c.Do(wire.Request{Op: wire.OpPut, Key: "k", Creds: short}, time.Second); err == nil {
		t.Fatal("a session with 14 minutes left was kept")
	}
	if resp, _ := c.Do(wire.Request{Op: wire.OpGet, Key: "k"}, time.Second); resp.Status != wire.StatusMiss {
		t.Fatalf("got %q", resp.Status)
	}
}

// With nothing held, the agent exits after its idle time and removes its
// socket.
func TestIdleExit(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "broker", "agent")
	s := &Server{Dir: dir, Idle: 200 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not exit when idle")
	}
	if _, err := os.Lstat(filepath.Join(dir, wire.SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// One agent per folder: a second one says so.
func TestSecondAgentRefused(t *testing.T) {
	_, dir := startAgent(t, time.Minute)
	err := (&Server{Dir: dir}).Run(context.Background())
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second agent: %v, want ErrRunning", err)
	}
}

// An agent whose folder or socket changes under it (mode, owner, replaced)
// exits: clients refuse it, and a new agent takes the folder over.
func TestTamperedSocketEndsAgent(t *testing.T) {
	for name, tamper := range map[string]func(dir string) error{
		"socket mode": func(dir string) error { return os.Chmod(filepath.Join(dir, wire.SocketName), 0o666) },
		"folder mode": func(dir string) error { return os.Chmod(dir, 0o755) },
		"socket gone": func(dir string) error { return os.Remove(filepath.Join(dir, wire.SocketName)) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(shortTempDir(t), "broker", "agent")
			s := &Server{Dir: dir, Idle: time.Hour}
			done := make(chan error, 1)
			go func() { done <- s.Run(context.Background()) }()
			waitFor(t, func() bool {
				c, err := wire.Dial(dir)
				if err == nil {
					c.Close()
				}
				return err == nil
			})
			if err := tamper(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := wire.Dial(dir); err == nil {
				t.Error("a client trusted the tampered socket")
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the agent kept serving a tampered socket")
			}
		})
	}
}

// Clients waiting for another's flight longer than their idle limit are
// kept waiting by the agent's keep-alives, and get the minter's answer:
// a long flight is not taken for an agent that does not answer.
func TestWaitersKeptAlive(t *testing.T) {
	s, dir := startServer(t, &Server{Idle: time.Minute, KeepAliveEvery: 20 * time.Millisecond})
	minter := dial(t, dir)
	a, err := minter.Get("k", true, time.Second, time.Minute, time.Now)
	if err != nil || !a.Mint {
		t.Fatalf("first client: %+v, %v; want to mint", a, err)
	}
	const idle = 200 * time.Millisecond
	results := make(chan error, 3)
	for range 3 {
		go func() {
			c := dial(t, dir)
			a, err := c.Get("k", true, idle, time.Minute, time.Now)
			if err == nil && (a.Creds == nil || a.Creds.AccessKeyID != "ASIAMINTED") {
				err = errors.New("not the minted answer")
			}
			results <- err
		}()
	}
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.flights["k"].waiters) == 3
	})
	time.Sleep(5 * idle) // the flight lasts several idle limits
	if _, err := minter.Do(wire.Request{Op: wire.OpPut, Key: "k", Creds: creds("ASIAMINTED")}, time.Second); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("a waiting client: %v", err)
		}
	}
}
