// Package busguard keeps github.com/99designs/keyring from starting a D-Bus
// session bus.
//
// keyring's package init() connects to the session bus (for its Secret
// Service and KWallet backends). When DBUS_SESSION_BUS_ADDRESS is unset,
// godbus, which it uses, runs dbus-launch: every process that links keyring
// would leave a new dbus-daemon behind on a headless login, and broker would
// then talk to a Secret Service nobody set up. This package's init() runs
// first and, when there is no bus to connect to, points godbus at an
// address it cannot dial ("disabled:"), so it fails at once and launches
// nothing. Restore puts the environment back; vault calls it from its own
// init(), which runs after keyring's.
//
// Why this init() runs before keyring's: Go initialises packages one at a
// time, each time the first package, sorted by import path, whose imports are
// all initialised (the spec's "Program initialization", since Go 1.21). This
// package imports only os, runtime and strconv, which godbus imports too, and
// "github.com/broker-dev/…" sorts before "github.com/godbus/dbus"; so it is
// initialised before godbus, and godbus before keyring. It must keep those
// imports and a path that sorts before github.com/godbus (TestNoBusLaunched
// in cmd/broker fails otherwise).
package busguard

import (
	"os"
	"runtime"
	"strconv"
)

const envVar = "DBUS_SESSION_BUS_ADDRESS"

// disabledAddress is an address godbus cannot dial: an unknown transport.
const disabledAddress = "disabled:"

var (
	// Original value of the variable, and whether it was set.
	original    string
	originalSet bool
	// changed says that init set the variable and Restore must undo it.
	changed bool
	// bus is the address found ("" when none), reason why there is none.
	bus, reason string
)

func init() {
	if runtime.GOOS != "linux" {
		return // keyring uses D-Bus on Linux only
	}
	original, originalSet = os.LookupEnv(envVar)
	bus, reason = find(original, os.Getenv("XDG_RUNTIME_DIR"), os.Getuid())
	if bus != "" && bus == original {
		return // the variable names the bus already
	}
	// godbus dials what the variable says: the bus found, or nothing.
	target := bus
	if target == "" {
		target = disabledAddress
	}
	if os.Setenv(envVar, target) == nil {
		changed = true
	}
}

// find says which session bus address a D-Bus client should use, as libdbus
// and sd-bus find it: the variable, else $XDG_RUNTIME_DIR/bus (or
// /run/user/UID/bus without XDG_RUNTIME_DIR) when it is a socket. "" and the
// reason when there is none. "autolaunch:" counts as unset: broker never
// starts a bus.
func find(env, runtimeDir string, uid int) (address, why string) {
	if env != "" && env != "autolaunch:" {
		return env, ""
	}
	where := "$XDG_RUNTIME_DIR/bus"
	if runtimeDir == "" {
		runtimeDir = "/run/user/" + strconv.Itoa(uid)
		where = runtimeDir + "/bus"
	}
	sock := runtimeDir + "/bus"
	if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "unix:path=" + sock, ""
	}
	if env == "autolaunch:" {
		return "", envVar + " is autolaunch: (broker never starts a session bus) and " + where + " does not exist"
	}
	return "", envVar + " is unset and " + where + " does not exist"
}

// Restore gives DBUS_SESSION_BUS_ADDRESS back the value it had when the
// process started, so that no child inherits what init set. Safe to call
// more than once.
func Restore() {
	if !changed {
		return
	}
	if originalSet {
		os.Setenv(envVar, original)
	} else {
		os.Unsetenv(envVar)
	}
	changed = false
}

// NoBus returns why the process has no session bus ("" when it has one,
// which may still not answer): the text names what is missing.
func NoBus() string { return reason }

// Address returns the session bus address the process uses, "" for none.
func Address() string { return bus }
