package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/99designs/keyring"
)

// Options says which keychain Open uses.
type Options struct {
	// Backend is one of keychain, wincred, secret-service, kwallet, pass
	// or keyctl; "" picks the first that opens, in that order. "file" is
	// refused. keychain needs a cgo build for darwin. keyctl, the kernel's
	// user keyring, keeps items only while the user has a process running
	// and never across a reboot.
	Backend string
	// Service is the namespace of every item; "" means "broker".
	Service string
	// Collection is the Secret Service collection; "" means "login".
	Collection string
	// Timeout bounds each backend operation; 0 means 10s. A locked Secret
	// Service can wait forever on an unlock prompt: running out of time is
	// an error wrapping ErrLocked.
	Timeout time.Duration
	// Record is the file that records which backend holds the keys
	// (RecordPath gives broker's); "" records nothing. Once a key is
	// stored, Open uses the recorded backend and no other: see Open.
	Record string
}

// backends are the backends Open uses, in the order "" tries them.
var backends = []string{"keychain", "wincred", "secret-service", "kwallet", "pass", "keyctl"}

// hints say what to do when a backend cannot be opened.
var hints = map[string]string{
	"keychain":       "unlock the login keychain (Keychain Access), or choose another backend",
	"wincred":        "check that the Windows Credential Manager is available, or choose another backend",
	"secret-service": "start a Secret Service provider such as gnome-keyring on the D-Bus session bus (is DBUS_SESSION_BUS_ADDRESS set?), or choose keyctl",
	"kwallet":        "start kwalletd and unlock the wallet, or choose another backend",
	"pass":           "install pass and run `pass init GPG-ID`, or choose another backend",
	"keyctl":         "the kernel keyring is unavailable (containers often block keyctl); choose another backend",
}

// noAnswerHints say what to do when a backend does not answer while it is
// opened (no item is read then, so no unlock prompt is waiting).
var noAnswerHints = map[string]string{
	"secret-service": "resume a stopped gnome-keyring-daemon (state T in `ps -o pid,stat,args -C gnome-keyring-daemon`: `kill -CONT PID`); " +
		"if the bus started one that never answered (another gnome-keyring-daemon of this user on another bus?), start gnome-keyring-daemon in this session",
	"kwallet": "kwalletd did not answer: start it and unlock the wallet",
}

// Backends returns the names of the backends this build can use on this
// system, in the order Open tries them.
func Backends() []string {
	var names []string
	for _, name := range backends {
		if available(name) {
			names = append(names, name)
		}
	}
	return names
}

// Open opens the keychain o names. It does no more than see that the
// backend answers: no item is read or listed, nothing is unlocked.
//
// The backend is the one o.Record names, once a key has been stored
// (SetKey records it); o.Backend must then be "" or the same. Otherwise
// it is o.Backend, or with "" the first of Backends that opens.
//
// An unknown, unavailable, refused or unusable backend is a
// *BackendError saying why (no session bus, a bus that does not answer,
// no Secret Service on it) and what to do; a recorded or named backend is
// never swapped for another. With nothing named or recorded, backends that
// fail to open are skipped, and none left is ErrNoBackend; but one that
// does not answer in time (ErrNoAnswer, ErrLocked), or a session bus that
// did not answer (internal/busguard), is an error rather than a reason to
// quietly use another keychain.
func Open(o Options) (*Vault, error) {
	if o.Service == "" {
		o.Service = defaultService
	}
	if o.Collection == "" {
		o.Collection = defaultCollection
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	switch {
	case o.Backend == "file":
		return nil, &BackendError{
			Backend: "file",
			Reason:  "refused: it keeps secrets in files encrypted with a passphrase that broker would have to store or ask for",
			Hint:    "install and unlock gnome-keyring, kwallet or pass, or use the kernel keyring (keyctl)",
		}
	case o.Backend != "" && !slices.Contains(backends, o.Backend):
		return nil, &BackendError{
			Backend: o.Backend,
			Reason:  "unknown; the backends are " + strings.Join(backends, ", "),
			Hint:    "choose one of " + strings.Join(backends, ", "),
		}
	}
	recorded, err := readRecord(o.Record)
	if err != nil {
		return nil, err
	}
	name := o.Backend
	switch {
	case recorded != "" && name != "" && name != recorded:
		return nil, &BackendError{
			Backend: name,
			Reason:  fmt.Sprintf("named, but this user's keys are in the %s keychain (recorded in %s)", recorded, o.Record),
			Hint: fmt.Sprintf("unset BROKER_BACKEND (or set it to %s); to move to another keychain, `broker remove` every profile, delete %s and add the keys again",
				recorded, o.Record),
		}
	case recorded != "":
		name = recorded
	}
	if name != "" {
		ring, err := openBackend(o, name)
		if err != nil {
			return nil, err
		}
		return newVault(ring, name, o, recorded != ""), nil
	}
	if err := hungBus("secret-service"); err != nil {
		return nil, err // the first backend tried would have been on that bus
	}
	var failed []string
	for _, name := range Backends() {
		ring, err := openBackend(o, name)
		if errors.Is(err, ErrLocked) || errors.Is(err, ErrNoAnswer) {
			return nil, err
		}
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		return newVault(ring, name, o, false), nil
	}
	if len(failed) == 0 {
		return nil, fmt.Errorf("%w on %s", ErrNoBackend, runtime.GOOS)
	}
	return nil, fmt.Errorf("%w: %s", ErrNoBackend, strings.Join(failed, "; "))
}

func available(name string) bool {
	return slices.Contains(keyring.AvailableBackends(), keyring.BackendType(name))
}

// openBackend opens one backend within o.Timeout. Every failure is a
// *BackendError.
func openBackend(o Options, name string) (keyring.Keyring, error) {
	if !available(name) {
		if err := noBus(name); err != nil {
			return nil, err
		}
		return nil, &BackendError{
			Backend: name,
			Reason:  fmt.Sprintf("not available in this build for %s", runtime.GOOS),
			Hint:    "choose one of " + strings.Join(Backends(), ", "),
		}
	}
	g := &gate{backend: name, timeout: o.Timeout}
	ring, err := run(g, func() (keyring.Keyring, error) {
		if err := probe(o, name); err != nil {
			return nil, err
		}
		ring, err := keyring.Open(config(o, name))
		if errors.Is(err, keyring.ErrNoAvailImpl) {
			// keyring drops the opener's error.
			return nil, &BackendError{Backend: name, Reason: "could not be opened", Hint: hints[name]}
		}
		return ring, err
	})
	var be *BackendError
	switch {
	case err == nil:
		return ring, nil
	case errors.As(err, &be):
		return nil, be
	case errors.Is(err, ErrNoAnswer):
		return nil, &BackendError{Backend: name, Reason: "not usable", Hint: noAnswerHints[name], Err: err}
	}
	return nil, &BackendError{Backend: name, Reason: "could not be opened", Hint: hints[name], Err: err}
}

// probe checks what keyring's openers do not, so that opening fails with
// a reason rather than an operation failing later.
func probe(o Options, name string) error {
	switch name {
	case "secret-service":
		return probeSecretService(o.Collection)
	case "keyctl":
		return probeKeyctl()
	case "pass":
		dir := os.Getenv("PASSWORD_STORE_DIR")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return err
			}
			dir = filepath.Join(home, ".password-store")
		}
		if _, err := os.Stat(filepath.Join(dir, ".gpg-id")); err != nil {
			return &BackendError{Backend: name, Reason: "no initialised password store at " + dir, Hint: hints[name]}
		}
	}
	return nil
}

func config(o Options, name string) keyring.Config {
	c := keyring.Config{
		AllowedBackends: []keyring.BackendType{keyring.BackendType(name)},
		ServiceName:     o.Service,

		// Trust broker itself, so that macOS does not ask before each read.
		KeychainTrustApplication: true,

		LibSecretCollectionName: o.Collection,

		// The user keyring is shared by every process of the user; a
		// session keyring is not (see keyctlPerm).
		KeyCtlScope: "user",
		KeyCtlPerm:  keyctlPerm,

		KWalletAppID:  o.Service,
		KWalletFolder: o.Service,

		PassPrefix: o.Service,
	}
	if name == "kwallet" {
		c.ServiceName = "kdewallet" // the wallet; the service is the folder
	}
	return c
}

// BackendError says that the named backend cannot be used, and what to
// do about it.
type BackendError struct {
	Backend string
	Reason  string
	Hint    string
	Err     error
}

func (e *BackendError) Error() string {
	msg := fmt.Sprintf("keychain backend %q: %s", e.Backend, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *BackendError) Unwrap() error { return e.Err }
