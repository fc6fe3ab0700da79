package agent

import (
	"slices"
	"time"

	"github.com/broker-dev/broker/broker/agent/wire"
)

// Single flight: of the clients asking for the same missing answer with
// Mint, the first is told to mint it and the others wait. The minter mints
// through the direct path in its own context (its terminal, its
// mfa_process), so the agent never asks for a code; it hands the answer in
// with put, and every waiter gets it. A minter that fails or goes away
// (killed, Ctrl-C) passes the flight to the next waiter, which mints in turn.

// get answers a get request, waiting while another client mints. A
// version 2 client is sent a keep-alive ("wait") at once and then every
// s.KeepAliveEvery meanwhile, so it can tell a long flight from an agent
// that does not answer; keepAlive sends one, false when it cannot.
func (s *Server) get(cl *client, req wire.Request, gone <-chan struct{}, keepAlive func() bool) (wire.Response, bool) {
	s.mu.Lock()
	if a, ok := s.answers[req.Key]; ok {
		if a.Usable(s.now()) {
			s.mu.Unlock()
			return wire.Response{Status: wire.StatusHit, Creds: &a}, true
		}
		delete(s.answers, req.Key)
	}
	if !req.Mint {
		s.mu.Unlock()
		return wire.Response{Status: wire.StatusMiss}, true
	}
	f := s.flights[req.Key]
	if f == nil {
		s.flights[req.Key] = &flight{minter: cl}
		cl.minting[req.Key] = true
		s.mu.Unlock()
		return wire.Response{Status: wire.StatusMint}, true
	}
	w := &waiter{c: cl, ch: make(chan wire.Response, 1)}
	f.waiters = append(f.waiters, w)
	s.mu.Unlock()

	var tick <-chan time.Time
	alive := true
	if req.Version >= 2 {
		t := time.NewTicker(s.keepAliveEvery())
		defer t.Stop()
		tick = t.C
		alive = keepAlive()
	}
	for alive {
		select {
		case resp := <-w.ch:
			return resp, true
		case <-tick:
			alive = keepAlive()
		case <-gone:
			alive = false
		case <-s.stopped:
			alive = false
		}
	}
	// Gone while waiting: out of the queue, or, if the flight passed to it
	// meanwhile, on to the next (leave does that for minting keys).
	s.mu.Lock()
	if f := s.flights[req.Key]; f != nil {
		f.waiters = slices.DeleteFunc(f.waiters, func(x *waiter) bool { return x == w })
	}
	s.mu.Unlock()
	return wire.Response{}, false
}

// put keeps an answer and hands it to everyone waiting for it.
func (s *Server) put(cl *client, req wire.Request) wire.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if req.Key == "" || !req.Creds.Usable(now) {
		// Not kept, but the waiters must not wait for nothing.
		s.abandon(req.Key, cl)
		return wire.Response{Status: wire.StatusError, Error: "incomplete credentials, or too close to expiry to hand out"}
	}
	if len(s.answers) >= maxAnswers {
		s.purge(now)
		for k := range s.answers {
			if len(s.answers) < maxAnswers {
				break
			}
			delete(s.answers, k)
		}
	}
	creds := *req.Creds
	s.answers[req.Key] = creds
	s.lastBusy = now
	if f := s.flights[req.Key]; f != nil {
		delete(s.flights, req.Key)
		delete(f.minter.minting, req.Key)
		for _, w := range f.waiters {
			w.ch <- wire.Response{Status: wire.StatusHit, Creds: &creds}
		}
	}
	delete(cl.minting, req.Key)
	return wire.Response{Status: wire.StatusOK}
}

// abandon passes key's flight from cl to the next waiter, or ends it when
// none waits. s.mu is held.
func (s *Server) abandon(key string, cl *client) {
	delete(cl.minting, key)
	f := s.flights[key]
	if f == nil || f.minter != cl {
		return
	}
	if len(f.waiters) == 0 {
		delete(s.flights, key)
		return
	}
	next := f.waiters[0]
	f.waiters = f.waiters[1:]
	f.minter = next.c
	next.c.minting[key] = true
	next.ch <- wire.Response{Status: wire.StatusMint}
}
