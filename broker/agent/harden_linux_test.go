package agent

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Harden, run in a child process of its own (it cannot be undone): the
// process is no longer dumpable and may write no core file.
func TestHarden(t *testing.T) {
	if os.Getenv("BROKER_TEST_HARDEN") == "1" {
		if err := Harden(); err != nil {
			t.Fatal(err)
		}
		dumpable, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
			t.Fatal(err)
		}
		if dumpable != 0 || lim.Cur != 0 || lim.Max != 0 {
			t.Fatalf("dumpable %d, core limit %d/%d", dumpable, lim.Cur, lim.Max)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHarden$", "-test.v")
	cmd.Env = append(os.Environ(), "BROKER_TEST_HARDEN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHarden") {
		t.Fatalf("hardened child: %v\n%s", err, out)
	}
}
