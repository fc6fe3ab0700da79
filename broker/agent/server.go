// Package agent is the broker agent: a per-user process that holds the
// answers of `broker export` (MFA and role session credentials) in memory
// and serves them over a Unix socket, so the warm call touches neither the
// keychain nor STS.
//
// The agent never mints a session, reads the keychain or asks for an MFA
// code. When nobody holds an answer, it picks one of the clients asking to
// mint it in its own context (its terminal, its mfa_process, its YubiKey),
// through the direct path, and the others wait for that client to hand the
// result in: one code, one STS call. Answers are keyed by wire.Key, which
// changes with the config, the environment and every change of keys or
// sessions, so a kept answer is only ever served where the direct path would
// return the same.
package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
)

// Limits of the agent. Only processes of its own user reach it; the limits
// keep a runaway one from growing it without bound.
const (
	DefaultIdle  = 15 * time.Minute
	maxConns     = 128
	maxAnswers   = 1024
	maxLine      = 64 << 10
	readTimeout  = 10 * time.Minute // a minter's person may take a while to type a code
	writeTimeout = 10 * time.Second
)

// ErrRunning means another agent already serves the folder.
var ErrRunning = errors.New("a broker agent is already running")

// Server is one agent.
type Server struct {
	Dir  string               // wire.Dir()
	Idle time.Duration        // exit after this long with no usable answer and no client; DefaultIdle when 0
	Now  func() time.Time     // clock; time.Now when nil
	Logf func(string, ...any) // diagnostics, never a secret; silent when nil
	// CheckEvery is how often the agent checks that its folder and socket
	// are still the private ones it made, and the generation; 1s when 0.
	CheckEvery time.Duration
	// KeepAliveEvery is how often a waiting version 2 client is told to
	// keep waiting; wire.KeepAliveEvery when 0.
	KeepAliveEvery time.Duration
	// Generation is the generation file (wire.GenerationPath) of the
	// clients that started the agent: when it changes, a command changed
	// keys or sessions, perhaps talking to another agent of the user, and
	// this one drops what it holds ("" watches nothing). Answers kept
	// under the old generation would never be asked for again anyway (it
	// is in their key); dropping them keeps no removed key's session in
	// memory.
	Generation string

	mu       sync.Mutex
	answers  map[string]wire.Credentials
	flights  map[string]*flight
	conns    int
	lastBusy time.Time
	started  time.Time
	stopOnce sync.Once
	stopped  chan struct{}
}

// flight is an answer being minted: by one client, the others waiting.
type flight struct {
	minter  *client
	waiters []*waiter
}

type waiter struct {
	c  *client
	ch chan wire.Response // buffered: the agent never blocks on a waiter
}

// client is one connection.
type client struct {
	minting map[string]bool // keys this client mints; guarded by Server.mu
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) keepAliveEvery() time.Duration {
	if s.KeepAliveEvery > 0 {
		return s.KeepAliveEvery
	}
	return wire.KeepAliveEvery
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Run serves until ctx ends, a client asks it to stop, or it has been idle
// for s.Idle. Another agent already serving s.Dir is ErrRunning.
func (s *Server) Run(ctx context.Context) error {
	if s.Idle <= 0 {
		s.Idle = DefaultIdle
	}
	s.answers = map[string]wire.Credentials{}
	s.flights = map[string]*flight{}
	s.stopped = make(chan struct{})
	s.started = s.now()
	s.lastBusy = s.started

	ln, release, intact, err := listen(s.Dir)
	if err != nil {
		return err
	}
	defer release()
	defer s.stop() // ends watch and every connection
	s.logf("agent %d listening on %s, idle limit %s", os.Getpid(), filepath.Join(s.Dir, wire.SocketName), s.Idle)

	go func() {
		select {
		case <-ctx.Done():
		case <-s.stopped:
		}
		ln.Close()
	}()
	go s.watch(intact)

	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.stopped:
				return nil
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting a connection: %w", err)
		}
		go s.serve(c)
	}
}

// stop makes Run return.
func (s *Server) stop() { s.stopOnce.Do(func() { close(s.stopped) }) }

// watch stops the agent once it has held no usable answer, had no client
// and no flight for s.Idle, or as soon as its folder or socket is no longer
// the private one it made (changed mode or owner, replaced, removed): it
// cannot be trusted, and clients refuse it, so a new agent takes over. On
// the way it drops expired answers.
func (s *Server) watch(intact func() error) {
	every := s.CheckEvery
	if every <= 0 {
		every = time.Second
	}
	tick := min(max(s.Idle/10, 10*time.Millisecond), every)
	t := time.NewTicker(tick)
	defer t.Stop()
	gen := s.readGeneration()
	for {
		select {
		case <-s.stopped:
			return
		case <-t.C:
		}
		newGen := s.readGeneration()
		s.mu.Lock()
		if newGen != gen {
			gen = newGen
			if n := len(s.answers); n > 0 {
				s.answers = map[string]wire.Credentials{}
				s.logf("the generation changed: dropped %d answer(s)", n)
			}
		}
		now := s.now()
		s.purge(now)
		if len(s.answers) > 0 || len(s.flights) > 0 || s.conns > 0 {
			s.lastBusy = now
		}
		idle := now.Sub(s.lastBusy)
		s.mu.Unlock()
		if err := intact(); err != nil {
			s.logf("exiting: %v", err)
			s.stop()
			return
		}
		if idle >= s.Idle {
			s.logf("idle for %s: exiting", idle.Round(time.Second))
			s.stop()
			return
		}
	}
}

// readGeneration is the generation file's content, or what kept it from
// being read: either way, a change from one tick to the next.
func (s *Server) readGeneration() string {
	if s.Generation == "" {
		return ""
	}
	b, err := os.ReadFile(s.Generation)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

// purge drops answers that may no longer be handed out. s.mu is held.
func (s *Server) purge(now time.Time) {
	for k, a := range s.answers {
		if !a.Usable(now) {
			delete(s.answers, k)
		}
	}
}

// serve answers one connection's requests, after checking its peer's uid.
func (s *Server) serve(c *net.UnixConn) {
	defer c.Close()
	uid, err := wire.PeerUID(c)
	if err != nil || uid != os.Getuid() {
		s.logf("refused a connection from uid %d (%v)", uid, err)
		return
	}
	s.mu.Lock()
	if s.conns >= maxConns {
		s.mu.Unlock()
		s.logf("refused a connection: %d open", maxConns)
		return
	}
	s.conns++
	s.mu.Unlock()
	cl := &client{minting: map[string]bool{}}
	defer s.leave(cl)

	reqs := make(chan wire.Request)
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		r := bufio.NewReaderSize(c, maxLine)
		for {
			_ = c.SetReadDeadline(time.Now().Add(readTimeout))
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			var req wire.Request
			if err := json.Unmarshal(line, &req); err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-s.stopped:
				return
			}
		}
	}()
	enc := json.NewEncoder(c)
	for {
		select {
		case <-gone:
			return
		case <-s.stopped:
			return
		case req := <-reqs:
			keepAlive := func() bool {
				_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
				return enc.Encode(wire.Response{Status: wire.StatusWait}) == nil
			}
			resp, ok := s.handle(cl, req, gone, keepAlive)
			if !ok {
				return
			}
			_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := enc.Encode(resp); err != nil {
				return
			}
			if req.Op == wire.OpStop {
				s.logf("stopped by a client")
				s.stop()
				return
			}
		}
	}
}

// leave ends a connection: what it was minting passes to the next waiter.
func (s *Server) leave(cl *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range cl.minting {
		s.abandon(key, cl)
	}
	s.conns--
	s.lastBusy = s.now()
}

// handle answers req; ok false means the client went away meanwhile.
func (s *Server) handle(cl *client, req wire.Request, gone <-chan struct{}, keepAlive func() bool) (resp wire.Response, ok bool) {
	switch req.Op {
	case wire.OpGet:
		return s.get(cl, req, gone, keepAlive)
	case wire.OpPut:
		return s.put(cl, req), true
	case wire.OpFail:
		s.mu.Lock()
		s.abandon(req.Key, cl)
		s.mu.Unlock()
		return wire.Response{Status: wire.StatusOK}, true
	case wire.OpInvalidate:
		s.mu.Lock()
		n := len(s.answers)
		s.answers = map[string]wire.Credentials{}
		s.mu.Unlock()
		s.logf("invalidated: dropped %d answer(s)", n)
		return wire.Response{Status: wire.StatusOK}, true
	case wire.OpStatus:
		return wire.Response{Status: wire.StatusOK, Agent: s.status()}, true
	case wire.OpStop:
		return wire.Response{Status: wire.StatusOK}, true
	}
	return wire.Response{Status: wire.StatusError, Error: fmt.Sprintf("unknown op %q", req.Op)}, true
}

func (s *Server) status() *wire.AgentStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(s.now())
	return &wire.AgentStatus{
		PID: os.Getpid(), Started: s.started, Answers: len(s.answers), Flights: len(s.flights),
		Idle: s.Idle.String(),
	}
}
