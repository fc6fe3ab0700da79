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

// The generation file in the agent's folder holds a random word that every
// command changing keys or sessions (add, rotate, revoke, remove, import,
// clear, keys) renews, and Key covers. It holds nothing secret. It works
// even when the agent is not running or misses the command's message: an
// answer kept under the old generation is never asked for again.
//
// While such a command runs, the file says "changing PID WORD": clients then
// leave the agent out (ErrBusy) until the command writes a new word. If the
// command is killed first, its marker stays; once that process is gone the
// marker is an ordinary generation, since no answer was kept under it while
// the command ran.
const generationName = "generation"

const changingPrefix = "changing "

// Generation reads the generation in dir ("" before the first change), or
// ErrBusy while a change is under way.
func Generation(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, generationName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	gen := string(b)
	if rest, ok := strings.CutPrefix(gen, changingPrefix); ok {
		pidText, _, _ := strings.Cut(rest, " ")
		if pid, err := strconv.Atoi(pidText); err == nil && processAlive(pid) {
			return "", ErrBusy
		}
	}
	return gen, nil
}

// BeginChange marks a change of keys or sessions under way; EndChange ends
// it with a new generation. Both create the agent's folder when missing
// (with EnsureDir's checks), since an agent started meanwhile must see them.
func BeginChange(dir string) error {
	return writeGeneration(dir, fmt.Sprintf("%s%d %s", changingPrefix, os.Getpid(), randomHex(16)))
}

// EndChange writes a new generation.
func EndChange(dir string) error {
	return writeGeneration(dir, randomHex(16))
}

func writeGeneration(dir, gen string) error {
	if err := EnsureDir(dir); err != nil {
		return err
	}
	tmp := filepath.Join(dir, generationName+"."+randomHex(6)+".tmp")
	if err := os.WriteFile(tmp, []byte(gen), 0o600); err != nil {
		return fmt.Errorf("writing the agent's generation: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, generationName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the agent's generation: %w", err)
	}
	return nil
}
