package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/internal/busguard"
	"github.com/godbus/dbus"
	libsecret "github.com/gsterjov/go-libsecret"
	"golang.org/x/sys/unix"
)

// keyctlPerm gives the items broker puts in the kernel keyring every
// permission for their possessor and for their owner (the user), none for
// group and others. The user permissions matter: keys in the user keyring
// are possessed only by processes whose session keyring links it, so with
// keyctl's default (the user may only view) a broker started in another
// session (cron, systemd, `keyctl session`) could neither read nor write
// them. TestKeyctlProcesses fails without them.
var keyctlPerm = keyring.GetPermissions(keyring.KEYCTL_PERM_ALL, keyring.KEYCTL_PERM_ALL, 0, 0)

// probeSecretService checks that a Secret Service answers on the session
// bus and has the collection. keyring would otherwise create a missing
// collection on the first write, through a prompt.
func probeSecretService(collection string) error {
	service, err := libsecret.NewService()
	if err != nil {
		return err
	}
	if err := secretServiceOnBus(); err != nil {
		return err
	}
	collections, err := service.Collections()
	if err != nil {
		return err
	}
	var names []string
	for _, c := range collections {
		name := collectionName(c.Path())
		if name == collection {
			return nil
		}
		names = append(names, fmt.Sprintf("%q", name))
	}
	hint := "create it (in Seahorse: File > New > Password Keyring), or choose another collection"
	if len(names) > 0 {
		hint += "; the collections are " + strings.Join(names, ", ")
	}
	return &BackendError{
		Backend: "secret-service",
		Reason:  fmt.Sprintf("no collection %q", collection),
		Hint:    hint,
	}
}

// collectionName returns the last element of a collection's object path,
// with the escapes of the Secret Service ("_" and two hex digits) undone.
func collectionName(path dbus.ObjectPath) string {
	s := string(path)
	s = s[strings.LastIndexByte(s, '/')+1:]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i+2 < len(s) {
			if c, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.Write(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func probeKeyctl() error {
	if _, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, true); err != nil {
		return fmt.Errorf("reaching the user keyring: %w", err)
	}
	return nil
}

// isLocked reports whether err is the Secret Service refusing an operation
// on a locked item or collection, as it does after an unlock prompt is
// dismissed or cannot be shown.
func isLocked(err error) bool {
	var e dbus.Error
	return errors.As(err, &e) && e.Name == "org.freedesktop.Secret.Error.IsLocked"
}

// isGone reports whether err is the Secret Service saying that an item it
// had just listed no longer exists: another process (`broker clear`, a
// purge of expired sessions) deleted it between keyring's search and its
// read or delete. That is not found, not a failure.
func isGone(err error) bool {
	var e dbus.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Name {
	case "org.freedesktop.Secret.Error.NoSuchObject",
		"org.freedesktop.DBus.Error.UnknownObject",
		// gnome-keyring, for an item path that is gone: "No such interface
		// “org.freedesktop.Secret.Item” on object at path ...".
		"org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.DBus.Error.UnknownInterface":
		return true
	}
	return false
}

// busHint says how to reach the desktop session's bus from elsewhere.
const busHint = "run broker in your desktop session, or point it at that session's bus: " +
	"export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$(id -u)/bus (the desktop session must be running)"

// noBus explains why a backend that lives on the session bus is missing:
// keyring registers those only when its init() reached the bus.
func noBus(name string) error {
	if name != "secret-service" && name != "kwallet" {
		return nil
	}
	if err := hungBus(name); err != nil {
		return err
	}
	if why := busguard.NoBus(); why != "" {
		return &BackendError{Backend: name, Reason: "no D-Bus session bus: " + why, Hint: busHint}
	}
	return &BackendError{
		Backend: name,
		Reason:  fmt.Sprintf("the D-Bus session bus at %s does not answer", busguard.Address()),
		Hint:    "its dbus-daemon is not running (the session ended?): log in again, or " + busHint,
	}
}

// hungBus is the error for a session bus that did not answer busguard's
// probe, nil when it answered or there is none. keyring registers no bus
// backend then, as with no bus, but the bus is there: Open with no backend
// named or recorded fails with it rather than quietly use another
// keychain, as for a backend that does not answer in time.
func hungBus(name string) error {
	why := busguard.Hung()
	if why == "" {
		return nil
	}
	return &BackendError{
		Backend: name,
		Reason:  why,
		Hint: "resume a stopped bus daemon (state T in `ps -o pid,stat,args -C dbus-daemon,dbus-broker`: " +
			"`kill -CONT PID`) or log in again; or " + busHint,
	}
}

const secretsName = "org.freedesktop.secrets"

// secretServiceOnBus fails at once when nothing owns the Secret Service's
// name and the bus cannot start anything that would.
func secretServiceOnBus() error {
	conn, err := dbus.SessionBus() // the connection keyring made
	if err != nil {
		return nil
	}
	bus := conn.BusObject()
	var owned bool
	if err := bus.Call("org.freedesktop.DBus.NameHasOwner", 0, secretsName).Store(&owned); err != nil || owned {
		return nil // let the call itself fail, or succeed
	}
	var activatable []string
	if err := bus.Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&activatable); err != nil {
		return nil
	}
	if slices.Contains(activatable, secretsName) {
		return nil // the bus starts it on the first call
	}
	return &BackendError{
		Backend: "secret-service",
		Reason:  "no Secret Service on the D-Bus session bus (nothing owns " + secretsName + ")",
		Hint:    "start gnome-keyring-daemon (or KeePassXC's Secret Service) in this session, or " + busHint,
	}
}
