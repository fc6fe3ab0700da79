package moto

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTailLeavesOutAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	log := `WARNING: This is a development server.
 * Running on http://127.0.0.1:40111
127.0.0.1 - - [02/Dec/2026 09:55:12] "POST / HTTP/1.1" 200 -
127.0.0.1 - - [02/Dec/2026 09:55:13] "POST /moto-api/recorder/start-recording HTTP/1.1" 200 -
Traceback (most recent call last):
  File "moto/core/responses.py", line 1, in dispatch
KeyError: 'UserName'
127.0.0.1 - - [02/Dec/2026 09:55:14] "POST / HTTP/1.1" 500 -
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "Traceback (most recent call last):\n  File \"moto/core/responses.py\", line 1, in dispatch\nKeyError: 'UserName'"
	if got := tail(path, 30); got != want {
		t.Errorf("tail =\n%s\nwant\n%s", got, want)
	}
	if got := tail(path, 1); got != "KeyError: 'UserName'" {
		t.Errorf("tail(1) = %q", got)
	}
}
