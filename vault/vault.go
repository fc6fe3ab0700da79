// Package vault keeps broker's secrets in the system keychain: the
// long-term IAM access keys of profiles and the STS sessions minted from
// them, typed, over github.com/99designs/keyring.
//
// It never calls AWS, never prints and never exits. Its errors may name
// profiles and session IDs, never a secret.
package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/keyring"
	"github.com/broker-dev/broker/internal/busguard"
)

func init() {
	// keyring's init() has run by now (vault imports it) and connected to
	// the session bus or failed to: give the variable busguard may have
	// set back its own value, so that no child inherits it.
	busguard.Restore()
}

var (
	// ErrNotFound means the item is not in the keychain.
	ErrNotFound = errors.New("not in the keychain")
	// ErrLocked means the keychain is locked: unlocking was refused, or the
	// backend did not answer in time (it may be waiting on an unlock prompt).
	ErrLocked = errors.New("keychain is locked")
	// ErrNoBackend means Open found no backend it could use.
	ErrNoBackend = errors.New("no usable keychain backend")
	// ErrNoAnswer means a backend being opened did not answer in time.
	// Opening never waits on an unlock prompt, so this is not ErrLocked.
	ErrNoAnswer = errors.New("keychain backend did not answer")
)

const (
	defaultService    = "broker"
	defaultCollection = "login"
	defaultTimeout    = 10 * time.Second
)

// Vault stores keys and sessions in one namespace (the service) of a
// keyring. It is safe for concurrent use: backend operations run one at a
// time.
type Vault struct {
	ring    keyring.Keyring
	service string
	gate    *gate
	// record is the file to record the backend in when a key is stored
	// ("" for none); recorded says it names this backend already.
	record   string
	recordMu sync.Mutex
	recorded bool
}

// New returns a Vault over ring, with every item under service ("" means
// "broker"). Tests pass keyring.NewArrayKeyring(nil); Backend reports
// "custom".
func New(ring keyring.Keyring, service string) *Vault {
	return newVault(ring, "custom", Options{Service: service}, false)
}

// newVault: recorded says that o.Record names backend already.
func newVault(ring keyring.Keyring, backend string, o Options, recorded bool) *Vault {
	if o.Service == "" {
		o.Service = defaultService
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	return &Vault{
		ring:     ring,
		service:  o.Service,
		gate:     &gate{backend: backend, timeout: o.Timeout, busy: make(chan struct{}, 1)},
		record:   o.Record,
		recorded: recorded,
	}
}

// Backend returns the name of the backend in use, such as "secret-service"
// or "keyctl".
func (v *Vault) Backend() string { return v.gate.backend }

// Item keys are "<service>:key:<profile>" and "<service>:session:<id>",
// each part escaped so that no part contains ':' or '/'. Other applications
// share some keyrings (every Secret Service client writes to the "login"
// collection), so a namespace is only ever read through its prefix, and the
// escaping keeps one service's prefix from being another's.
const (
	kindKey     = "key"
	kindSession = "session"
)

func (v *Vault) prefix(kind string) string {
	return escape(v.service) + ":" + kind + ":"
}

func (v *Vault) itemKey(kind, name string) string {
	return v.prefix(kind) + escape(name)
}

// names returns the unescaped names of the items of kind, sorted, each
// once: the Secret Service can hold two items under one key.
func (v *Vault) names(kind string) ([]string, error) {
	keys, err := v.keys()
	if err != nil {
		return nil, err
	}
	prefix := v.prefix(kind)
	names := []string{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if name, err := url.PathUnescape(rest); err == nil && name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// escape percent-encodes the bytes that separate parts of an item key or
// of a path (pass stores items as files), and control characters.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%', c == ':', c == '/', c == '\\', c < 0x20, c == 0x7f:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// The backend calls. Each is bounded by the timeout and has its error
// classified: keyring's not-found becomes ErrNotFound, a locked keychain
// ErrLocked.

func (v *Vault) get(key string) (keyring.Item, error) {
	return run(v.gate, func() (keyring.Item, error) { return v.ring.Get(key) })
}

func (v *Vault) set(item keyring.Item) error {
	_, err := run(v.gate, func() (struct{}, error) { return struct{}{}, v.ring.Set(item) })
	return err
}

// remove deletes the item key. An item already absent is not an error:
// no caller minds.
func (v *Vault) remove(key string) error {
	_, err := run(v.gate, func() (struct{}, error) { return struct{}{}, v.ring.Remove(key) })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (v *Vault) keys() ([]string, error) {
	return run(v.gate, v.ring.Keys)
}

// gate runs backend operations one at a time, each within timeout. An
// operation that overruns is left running, since a backend call cannot be
// cancelled, and keeps the gate: later operations time out too until it
// returns.
type gate struct {
	backend string
	timeout time.Duration
	busy    chan struct{} // nil: no serialising (opening a backend)
}

func run[T any](g *gate, op func() (T, error)) (T, error) {
	var zero T
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	if g.busy != nil {
		select {
		case g.busy <- struct{}{}:
		case <-timer.C:
			return zero, g.timedOut()
		}
	}
	type result struct {
		val T
		err error
	}
	done := make(chan result, 1)
	go func() {
		if g.busy != nil {
			defer func() { <-g.busy }()
		}
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: g.panicked(r)}
			}
		}()
		val, err := op()
		done <- result{val, err}
	}()
	select {
	case r := <-done:
		return r.val, classify(r.err)
	case <-timer.C:
		return zero, g.timedOut()
	}
}

func (g *gate) timedOut() error {
	if g.busy == nil { // opening: no item is read, so no unlock prompt
		return fmt.Errorf("the %s keychain did not answer within %s: %w", g.backend, g.timeout, ErrNoAnswer)
	}
	return fmt.Errorf("the %s keychain did not answer within %s, it may be waiting for an unlock prompt: %w", g.backend, g.timeout, ErrLocked)
}

// panicked turns a panic in a backend (they assert on D-Bus replies) into
// an error. Only a runtime error's text is kept: it names types, not values.
func (g *gate) panicked(r any) error {
	if re, ok := r.(runtime.Error); ok {
		return fmt.Errorf("the %s keychain failed: %v", g.backend, re)
	}
	return fmt.Errorf("the %s keychain failed unexpectedly", g.backend)
}

// classify maps backend errors to the package's sentinels. Errors from
// encoding/json are dropped: their text can quote the data, a secret.
func classify(err error) error {
	var (
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrKeyNotFound), isGone(err):
		return ErrNotFound
	case isLocked(err):
		return fmt.Errorf("%w: %v", ErrLocked, err)
	case errors.As(err, &syntax), errors.As(err, &typeError):
		return errors.New("the keychain returned an item that does not decode")
	}
	return err
}
