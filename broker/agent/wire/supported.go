//go:build linux || darwin

package wire

// Supported reports whether this system has the agent: Linux and macOS,
// where a socket peer's uid can be learnt. (Windows: the agent is off.)
const Supported = true
