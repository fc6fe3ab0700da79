package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The generation file holds a random word that every command changing keys
// or sessions (add, rotate, revoke, remove, import, clear, keys) renews, and
// Key covers. It holds nothing secret. It works even when no agent runs or
// an agent misses the command's message: an answer kept under the old
// generation is never asked for again.
//
// It lives beside the backend record (vault.RecordPath), in broker's folder
// under the user's config folder, not in an agent's runtime folder: every
// process of the user that finds the keychain through the same record reads
// the same generation, whatever runtime folder (and so whatever agent) it
// uses. A cron job or an `su` login without XDG_RUNTIME_DIR reaches another
// agent (in the temp folder) than the desktop's, and a key removed from one
// must be gone from both.
//
// While such a command runs, the file says "changing PID WORD": clients then
// leave the agent out (ErrBusy) until the command writes a new word. If the
// command is killed first, its marker stays; once that process is gone the
// marker is an ordinary generation, since no answer was kept under it while
// the command ran.
const generationName = "agent-generation"

const changingPrefix = "changing "

// GenerationPath is the generation file of this user: "agent-generation"
// in broker's folder under os.UserConfigDir ($XDG_CONFIG_HOME/broker or
// ~/.config/broker on Linux), where the backend record is.
//
// A relative XDG_CONFIG_HOME is invalid and to be ignored (the XDG Base
// Directory spec), and os.UserConfigDir fails on it; the generation then
// falls back to ~/.config/broker, as the spec says. It must: a command
// that changes keys with such a variable still has to reach the clients
// and agents of every other environment, which read ~/.config/broker.
func GenerationPath() (string, error) {
	dir, err := os.UserConfigDir()
	if x := os.Getenv("XDG_CONFIG_HOME"); err != nil && x != "" && !filepath.IsAbs(x) {
		home, herr := os.UserHomeDir()
		if herr == nil {
			dir, err = filepath.Join(home, ".config"), nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("finding the folder for broker's settings: %w", err)
	}
	return filepath.Join(dir, "broker", generationName), nil
}

// Generation reads the generation at path ("" before the first change), or
// ErrBusy while a change is under way. A file that is a link or another
// user's is ErrUnsafe: nobody else may choose which answers are found.
func Generation(path string) (string, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if err := private(path, fi, 0, 0o644); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	gen := string(b)
	if changer(gen) != 0 {
		return "", ErrBusy
	}
	return gen, nil
}

// Changer is the pid of the live process that marked a change under way
// in the generation at path, 0 when none: while there is one, no client
// uses an agent (ErrBusy). A marker left by a killed command whose pid
// another process now has counts until the next change.
func Changer(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return changer(string(b))
}

func changer(gen string) int {
	if rest, ok := strings.CutPrefix(gen, changingPrefix); ok {
		pidText, _, _ := strings.Cut(rest, " ")
		if pid, err := strconv.Atoi(pidText); err == nil && processAlive(pid) {
			return pid
		}
	}
	return 0
}

// BeginChange marks a change of keys or sessions under way at path (see
// GenerationPath); EndChange ends it with a new generation. Both create
// the folder when missing.
func BeginChange(path string) error {
	return writeGeneration(path, fmt.Sprintf("%s%d %s", changingPrefix, os.Getpid(), randomHex(16)))
}

// EndChange writes a new generation at path.
func EndChange(path string) error {
	return writeGeneration(path, randomHex(16))
}

func writeGeneration(path, gen string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := checkParent(dir); err != nil {
		return err
	}
	tmp := path + "." + randomHex(6) + ".tmp"
	if err := os.WriteFile(tmp, []byte(gen), 0o600); err != nil {
		return fmt.Errorf("writing the agent's generation: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the agent's generation: %w", err)
	}
	return nil
}
