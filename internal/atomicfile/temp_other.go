//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// unnamedTemp: only Linux has unnamed files (O_TMPFILE); elsewhere the
// temporary file has a hidden name, and the next edit removes it if a
// killed one left it.
func unnamedTemp(string) (*temp, error) { return nil, errors.ErrUnsupported }

func linkTemp(*os.File, string) error { return errors.ErrUnsupported }
