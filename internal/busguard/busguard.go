// Package busguard keeps github.com/99designs/keyring from starting a D-Bus
// session bus, and from hanging on one that does not answer.
//
// keyring's package init() connects to the session bus (for its Secret
// Service and KWallet backends). When DBUS_SESSION_BUS_ADDRESS is unset,
// godbus, which it uses, runs dbus-launch: every process that links keyring
// would leave a new dbus-daemon behind on a headless login, and broker would
// then talk to a Secret Service nobody set up. And godbus sets no deadline:
// on a bus that accepts connections but never answers (a dbus-daemon
// stopped with SIGSTOP or stuck, a socket something else listens on) that
// init() waits forever, and so would every broker command, --version
// included. This package's init() runs first. When there is no bus to
// connect to, or the bus found does not answer the first line of a
// connection's authentication within probeDeadline, it points godbus at an
// address it cannot dial ("disabled:"), so it fails at once and launches
// nothing. So it does, without probing, when the backend broker will use
// does not live on the bus: BROKER_BACKEND, or else broker's backend
// record, names keyctl, pass or file (see busFree). Restore puts the environment back; vault calls it from its own
// init(), which runs after keyring's.
//
// Why this init() runs before keyring's: Go initialises packages one at a
// time, each time the first package, sorted by import path, whose imports are
// all initialised (the spec's "Program initialization", since Go 1.21). This
// package imports only packages that godbus imports too, directly or through
// them (bufio, encoding/hex, errors, net, os, runtime, strconv, strings,
// time), and "github.com/broker-dev/…" sorts before "github.com/godbus/dbus";
// so it is ready whenever godbus is, is initialised before godbus, and godbus
// before keyring. It must keep to such imports and a path that sorts before
// github.com/godbus (TestNoBusLaunched and TestHungBus in cmd/broker fail
// otherwise).
package busguard

import (
	"bufio"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
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
	// hung says why bus does not count: it did not answer ("" when it did).
	hung string
)

// probeDeadline bounds the probe of the bus found: dialling it and reading
// the answer to the first line of authentication. A live dbus-daemon or
// dbus-broker answers within a millisecond (BenchmarkAnswers: the whole
// probe takes about 0.1 ms); a daemon that systemd starts on this first
// connection (dbus.socket) answers in tens of milliseconds, more on a loaded
// machine. Two seconds is far above both, so a slow bus is not taken for a
// dead one, and short enough that on a hung bus a command that needs it
// fails with the cause at once for a person (and well inside any caller's
// timeout), and a keyctl or pass user's command that names its backend in
// neither BROKER_BACKEND nor the record goes on 2 s late.
const probeDeadline = 2 * time.Second

func init() {
	if runtime.GOOS != "linux" {
		return // keyring uses D-Bus on Linux only
	}
	original, originalSet = os.LookupEnv(envVar)
	if why := busFree(os.Getenv, os.ReadFile); why != "" {
		// No probe: a hung bus costs such a command nothing.
		reason = why
		if os.Setenv(envVar, disabledAddress) == nil {
			changed = true
		}
		return
	}
	bus, reason = find(original, os.Getenv("XDG_RUNTIME_DIR"), os.Getuid())
	if bus != "" && !answers(bus, os.Getuid(), probeDeadline) {
		hung = "the D-Bus session bus at " + bus + " did not answer within " +
			probeDeadline.String() + " (a stopped or hung dbus-daemon?)"
	}
	if bus != "" && hung == "" && bus == original {
		return // the variable names the bus already
	}
	// godbus dials what the variable says: the bus found, or nothing.
	target := bus
	if target == "" || hung != "" {
		target = disabledAddress
	}
	if os.Setenv(envVar, target) == nil {
		changed = true
	}
}

// busFree says why the backend broker will use needs no session bus: the
// sentence naming it, or "" when it may (or may not) use one. The backend
// is BROKER_BACKEND's, or else the one broker's record names (vault's
// RecordPath: $XDG_CONFIG_HOME/broker/backend, or ~/.config/broker/backend
// when XDG_CONFIG_HOME is unset; a relative XDG_CONFIG_HOME gives vault no
// record, so none here either). Anything else probes, as before.
func busFree(getenv func(string) string, readFile func(string) ([]byte, error)) string {
	if name := getenv("BROKER_BACKEND"); name != "" {
		if !noBusBackend(name) {
			return ""
		}
		return "BROKER_BACKEND is " + name + ", which does not use D-Bus"
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = home + "/.config"
	}
	if !strings.HasPrefix(dir, "/") {
		return ""
	}
	path := dir + "/broker/backend"
	b, err := readFile(path)
	if err != nil {
		return ""
	}
	if name := strings.TrimSpace(string(b)); noBusBackend(name) {
		return path + " records the backend " + name + ", which does not use D-Bus"
	}
	return ""
}

// noBusBackend reports whether broker's backend name lives off the bus.
func noBusBackend(name string) bool {
	return name == "keyctl" || name == "pass" || name == "file"
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

// answers reports whether the bus at address, as godbus would reach it,
// answers the first line of a connection's authentication within d. godbus
// dials the entries of the address (separated by ";") in turn and uses the
// first one that it can dial; so does answers, for unix:path= and
// unix:abstract= entries, and then sends what godbus's authentication sends
// first (a NUL byte and an AUTH line, here AUTH EXTERNAL with the uid) and
// waits for a line back. Any answer counts, OK, REJECTED or an error; so
// does the connection being closed or refused, which godbus sees at once
// too. Only silence until the deadline is a bus that does not answer. An
// entry of another transport (tcp:, nonce-tcp:) is not probed: true.
func answers(address string, uid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for _, entry := range strings.Split(address, ";") {
		transport, keys, _ := strings.Cut(entry, ":")
		switch transport {
		case "unix":
		case "tcp", "nonce-tcp":
			return true
		default:
			continue // godbus cannot dial it either
		}
		// As godbus reads the keys: the first of each name, no unescaping.
		path, abstract := key(keys, "path"), key(keys, "abstract")
		if (path == "") == (abstract == "") {
			continue // neither or both: godbus does not dial it
		}
		if abstract != "" {
			path = "@" + abstract
		}
		conn, err := (&net.Dialer{Deadline: deadline}).Dial("unix", path)
		if err != nil {
			if isTimeout(err) {
				return false
			}
			continue // godbus goes on to the next entry, or fails at once
		}
		defer conn.Close()
		conn.SetDeadline(deadline)
		auth := "\x00AUTH EXTERNAL " + hex.EncodeToString([]byte(strconv.Itoa(uid))) + "\r\n"
		if _, err := conn.Write([]byte(auth)); err != nil {
			return !isTimeout(err)
		}
		_, err = bufio.NewReader(conn).ReadString('\n')
		return !isTimeout(err)
	}
	return true // nothing godbus can dial: it fails at once
}

// key returns the value of the first name=value in keys, as godbus's getKey.
func key(keys, name string) string {
	for _, kv := range strings.Split(keys, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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

// Hung returns, when the session bus found did not answer in time, the
// sentence that says so, naming its address; "" when it answered or there
// is none. keyring's backends on the bus are then missing, as with no bus.
func Hung() string { return hung }

// Address returns the session bus address found, "" for none. When Hung
// says it does not answer, the process does not use it.
func Address() string { return bus }
