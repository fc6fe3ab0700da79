//go:build linux

package wire

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeAgent listens in a private agent folder of its own and answers every
// line with reply ("" answers nothing: an agent stopped with SIGSTOP,
// whose connections the kernel still accepts).
func fakeAgent(t *testing.T, reply string) string {
	t.Helper()
	base, err := os.MkdirTemp("", "fa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "broker", "agent")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			if reply == "" {
				continue
			}
			go func() {
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadBytes('\n'); err != nil {
						return
					}
					c.Write([]byte(reply + "\n"))
				}
			}()
		}
	}()
	return dir
}

// An agent that accepts but never answers is ErrUnresponsive, not a wait
// for another client's flight.
func TestGetUnresponsiveAgent(t *testing.T) {
	dir := fakeAgent(t, "")
	c, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Get("k", true, 100*time.Millisecond, time.Hour, time.Now)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnresponsive) {
			t.Fatalf("a silent agent: %v, want ErrUnresponsive", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Get still waits on a silent agent after a minute (its flight limit is an hour)")
	}
}

// A hit that may not be handed out (too close to expiry, incomplete) is no
// answer, for every client.
func TestGetRefusesUnusableHit(t *testing.T) {
	exp := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	for name, creds := range map[string]string{
		"five minutes left": `{"access_key_id":"ASIAFAKE0","secret_access_key":"s","session_token":"t","expiration":"` + exp + `"}`,
		"no token":          `{"access_key_id":"ASIAFAKE0","secret_access_key":"s","expiration":"2999-01-01T00:00:00Z"}`,
	} {
		dir := fakeAgent(t, `{"status":"hit","creds":`+creds+`}`)
		c, err := Dial(dir)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Get("k", true, time.Second, time.Second, time.Now)
		c.Close()
		if err == nil || a.Creds != nil {
			t.Errorf("%s: Get returned %+v, %v; want no answer", name, a, err)
		}
	}
}
