package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/broker-dev/broker/internal/userpath"
)

// keyVersion changes whenever what Key covers changes, so an agent of
// another version never serves an answer keyed the old way.
const keyVersion = "broker-agent-key-3"

// The environment an answer depends on: the one list that decides it, for
// Key and for TestKeyCoversEveryVariableBrokerReads, which fails when any
// code of broker's reads a variable that Covers does not cover, unless that
// test lists it with the reason it cannot change an answer.
//
// keyEnvExact are the variables, besides the prefixes in keyEnvPrefixes,
// that choose the profile's config, the plan made of it (aws-vault's
// variables), its region, endpoints or keychain.
var keyEnvExact = []string{
	// the config, and where the keychain's record is
	"AWS_CONFIG_FILE", "HOME", "XDG_CONFIG_HOME",
	// the region and endpoints
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CA_BUNDLE",
	// aws-vault's variables, over the config (broker.Plan)
	"AWS_MFA_SERIAL", "AWS_ASSUME_ROLE_TTL", "AWS_SESSION_TOKEN_TTL", "AWS_CHAINED_SESSION_TOKEN_TTL",
	"AWS_SESSION_TAGS", "AWS_TRANSITIVE_TAGS", "AWS_SOURCE_IDENTITY",
	// the keychain: the session bus (found in XDG_RUNTIME_DIR when
	// DBUS_SESSION_BUS_ADDRESS is unset), pass's store and gpg's keys
	"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "PASSWORD_STORE_DIR", "GNUPGHOME",
	"YKMAN_OATH_CREDENTIAL_NAME",
}

var keyEnvPrefixes = []string{"AWS_ENDPOINT_URL", "BROKER_"}

// keyEnvIgnored are BROKER_ variables that say how to reach the agent, not
// what the answer is.
var keyEnvIgnored = []string{"BROKER_AGENT", "BROKER_AGENT_IDLE"}

// Covers reports whether Key covers the environment variable name: a
// change of its value gives another key.
func Covers(name string) bool {
	if slices.Contains(keyEnvIgnored, name) {
		return false
	}
	return slices.Contains(keyEnvExact, name) || hasAnyPrefix(name, keyEnvPrefixes)
}

// CoversPrefix reports whether Key covers every variable whose name starts
// with prefix (as AWS_ENDPOINT_URL_ + a service's name).
func CoversPrefix(prefix string) bool {
	for _, p := range keyEnvPrefixes {
		if strings.HasPrefix(prefix, p) {
			for _, ign := range keyEnvIgnored {
				if strings.HasPrefix(ign, prefix) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// ErrBusy means a command that changes keys or sessions is running (see
// BeginChange): until it ends, no answer may come from the agent.
var ErrBusy = errors.New("a broker command is changing keys or sessions")

// Key names the answer `broker export PROFILE` gives in environ now. It
// covers the profile's name, the AWS config file (its resolved path, its
// identity and a hash of its content), the environment that chooses the
// config, region, endpoints and keychain, and the generation that every
// command changing keys or sessions renews, read at genPath (see
// GenerationPath). When any of them changes, the key does, and the agent's
// old answer is never found.
func Key(genPath, profile string, environ []string) (string, error) {
	gen, err := Generation(genPath)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(keyVersion)
	field(profile)
	field(gen)
	env := keyEnv(environ)
	for _, kv := range env {
		field(kv)
	}
	path, err := configPath(env)
	if err != nil {
		return "", err
	}
	field(path)
	if err := hashFile(h, path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// keyEnv picks the variables Key covers out of environ, sorted.
func keyEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		if name, _, ok := strings.Cut(kv, "="); ok && Covers(name) {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	return env
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func lookup(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// configPath is the config file broker reads ($AWS_CONFIG_FILE, else
// ~/.aws/config), absolute, with links resolved when it exists.
func configPath(env []string) (string, error) {
	path := userpath.Expand(lookup(env, "AWS_CONFIG_FILE"), lookup(env, "HOME")) // ~ as broker expands it
	if path == "" {
		home := lookup(env, "HOME")
		if home == "" {
			return "", errors.New("no HOME to find the AWS config in")
		}
		path = filepath.Join(home, ".aws", "config")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	return path, nil
}

// hashFile adds the identity and content of the file at path, or that it
// is missing, to h.
func hashFile(h interface{ Write([]byte) (int, error) }, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, err = h.Write([]byte("missing"))
		return err
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("the AWS config is not a regular file")
	}
	var id [8]byte
	for _, v := range identity(fi) {
		binary.BigEndian.PutUint64(id[:], v)
		h.Write(id[:])
	}
	// The identity above already changes with every write (the change
	// time cannot be set back); the checksum also catches a file system
	// with coarse times. CRC-32C runs in hardware: SHA-256 of a config of
	// 10,000 profiles would cost more than the rest of the warm call.
	sum, err := checksum(f, fi.Size())
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(id[:4], sum)
	_, err = h.Write(id[:4])
	return err
}
