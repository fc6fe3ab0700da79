//go:build windows

package mfa

import "os"

// openTerminal opens path for reading and writing or, if path is empty, the
// console's input and output buffers (Windows has no single tty device).
func openTerminal(path string) (*terminal, error) {
	if path != "" {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		return &terminal{name: path, in: f, out: f}, nil
	}
	in, err := os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0)
	if err != nil {
		in.Close()
		return nil, err
	}
	return &terminal{name: "the console", in: in, out: out}, nil
}
