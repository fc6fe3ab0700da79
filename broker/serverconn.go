package broker

import (
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the credential endpoint. Its one legitimate client is the
// command's SDK, which sends a small GET at once; any other local process
// can connect too, so nothing it does may hold broker's memory or file
// descriptors, or keep the SDK from being served.
const (
	serverReadHeaderTimeout = 5 * time.Second  // a request's headers, from its first byte
	serverReadTimeout       = 10 * time.Second // the whole request, body included
	serverIdleTimeout       = 30 * time.Second // a kept-alive connection between requests
	serverMaxHeaderBytes    = 8 << 10
	// serverMaxConns: past it, a new connection sheds the oldest one that
	// has not sent a request (or else the oldest idle one), never one being
	// served, so a flood of silent connections cannot refuse the SDK.
	serverMaxConns = 64
)

// HTTPServer returns the http.Server to run s on a listener: bounded
// reads, idle connections closed, at most serverMaxConns connections open.
// Refused requests also close their connection (see refuse).
func (s *CredentialServer) HTTPServer() *http.Server {
	g := &connGuard{max: serverMaxConns, conns: map[net.Conn]connState{}}
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: serverReadHeaderTimeout,
		ReadTimeout:       serverReadTimeout,
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes,
		ConnState:         g.track,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}

// connGuard keeps the number of open connections at most max.
type connGuard struct {
	max   int
	mu    sync.Mutex
	seq   uint64
	conns map[net.Conn]connState
}

type connState struct {
	state http.ConnState
	since uint64 // order of the last change to New or Idle
}

// track is the http.Server's ConnState hook. For a new connection it runs
// in the accept loop, before the connection's goroutine starts.
func (g *connGuard) track(c net.Conn, state http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	switch state {
	case http.StateNew:
		g.conns[c] = connState{state, g.seq}
		for len(g.conns) > g.max {
			victim := g.oldest(c)
			if victim == nil {
				break
			}
			delete(g.conns, victim)
			_ = victim.Close()
		}
	case http.StateIdle:
		g.conns[c] = connState{state, g.seq}
	case http.StateActive:
		g.conns[c] = connState{state, g.conns[c].since}
	case http.StateHijacked, http.StateClosed:
		delete(g.conns, c)
	}
}

// oldest is the connection to shed: the oldest that has sent nothing yet,
// else the oldest idle one; never keep, never one being served.
func (g *connGuard) oldest(keep net.Conn) net.Conn {
	var victim net.Conn
	var best connState
	for c, st := range g.conns {
		if c == keep || st.state == http.StateActive {
			continue
		}
		if victim == nil || before(st, best) {
			victim, best = c, st
		}
	}
	return victim
}

// before orders shedding: connections that sent nothing before idle ones,
// older before newer.
func before(a, b connState) bool {
	if (a.state == http.StateNew) != (b.state == http.StateNew) {
		return a.state == http.StateNew
	}
	return a.since < b.since
}
