package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/keyring"
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
