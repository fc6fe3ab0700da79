package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// brokerPath is the broker installed beside this program, else the one on
// PATH.
func brokerPath() (string, error) {
	name := "broker"
	if runtime.GOOS == "windows" {
		name = "broker.exe"
	}
	if self, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		beside := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() {
			return beside, nil
		}
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", errors.New("broker is neither beside broker-credential-process nor on PATH")
	}
	return path, nil
}

func fail(err error) int {
	os.Stderr.WriteString("broker: " + err.Error() + "\nhint: install broker and broker-credential-process together (./install.sh)\n")
	return 1
}
