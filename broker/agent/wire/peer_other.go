//go:build !linux && !darwin

package wire

import (
	"errors"
	"net"
)

// Supported reports whether this system has the agent: it needs a way to
// learn a socket peer's uid.
const Supported = false

// PeerUID cannot be learnt here, so every connection is refused.
func PeerUID(*net.UnixConn) (int, error) {
	return 0, errors.New("the broker agent is not supported on this system")
}

// peerPID is unknown here: 0.
func peerPID(*net.UnixConn) int { return 0 }
