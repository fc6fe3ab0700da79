package broker

import (
	"net"
	"net/http"
	"testing"
)

// closeConn is a connection that records being closed.
type closeConn struct {
	net.Conn
	closed bool
}

func (c *closeConn) Close() error { c.closed = true; return nil }

// TestConnGuardSheds: past the cap, a new connection sheds the oldest one
// that has sent nothing, then the oldest idle one, and never one being
// served.
func TestConnGuardSheds(t *testing.T) {
	g := &connGuard{max: 3, conns: map[net.Conn]connState{}}
	active, idle, silent := &closeConn{}, &closeConn{}, &closeConn{}
	for _, c := range []*closeConn{active, idle, silent} {
		g.track(c, http.StateNew)
	}
	g.track(active, http.StateActive)
	g.track(idle, http.StateActive)
	g.track(idle, http.StateIdle)

	late := &closeConn{}
	g.track(late, http.StateNew)
	if !silent.closed || idle.closed || active.closed || late.closed {
		t.Fatalf("shed silent %v, idle %v, active %v, new %v; want only the silent one", silent.closed, idle.closed, active.closed, late.closed)
	}
	g.track(late, http.StateActive)
	later := &closeConn{}
	g.track(later, http.StateNew)
	if !idle.closed || active.closed || late.closed || later.closed {
		t.Fatalf("second shed: idle %v, active %v; want the idle one", idle.closed, active.closed)
	}
	// All served: nothing to shed, the cap is exceeded rather than a
	// request cut off.
	g.track(later, http.StateActive)
	last := &closeConn{}
	g.track(last, http.StateNew)
	if active.closed || late.closed || later.closed || last.closed || len(g.conns) != 4 {
		t.Fatalf("shed a connection being served (%d tracked)", len(g.conns))
	}
	for _, c := range []*closeConn{active, late, later, last} {
		g.track(c, http.StateClosed)
	}
	if len(g.conns) != 0 {
		t.Errorf("%d connections tracked after all closed", len(g.conns))
	}
}
