//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestRotateSharedKeyConcurrently rotates two profiles that hold the same
// key at once, several rounds, the user having an inactive spare left by an
// earlier rotation: the two take turns on the key's lock. Each round both
// profiles end up holding the same key, which IAM has and is active, and a
// rotate that lost the race says so and changes nothing.
func TestRotateSharedKeyConcurrently(t *testing.T) {
	w, _ := twoHolders(t)
	// An earlier rotation leaves the inactive spare the next one deletes.
	if _, errOut, code := w.broker("rotate", "--yes", "--force", "ivan"); code != 0 {
		t.Fatalf("first rotate: exit %d: %s", code, errOut)
	}
	for round := range 3 {
		var runs [2]*exec.Cmd
		var errOuts [2]bytes.Buffer
		for i, name := range []string{"ivan", "default"} {
			c := exec.Command(brokerBin, "rotate", "--yes", "--force", name)
			c.Env, c.Dir = w.env, w.home
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			c.Stderr = &errOuts[i]
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			runs[i] = c
		}
		succeeded := 0
		for i, c := range runs {
			err := c.Wait()
			var exit *exec.ExitError
			switch {
			case err == nil:
				succeeded++
			case errors.As(err, &exit):
				if !strings.Contains(errOuts[i].String(), "was just rotated by another broker; nothing changed") {
					t.Errorf("round %d: a rotate failed otherwise than losing the race:\n%s", round, errOuts[i].String())
				}
			default:
				t.Fatal(err)
			}
		}
		if succeeded == 0 {
			t.Errorf("round %d: neither rotate succeeded:\n%s\n%s", round, errOuts[0].String(), errOuts[1].String())
		}
		ids := map[string]string{}
		for _, r := range decodeList(w.mustBroker("list", "--json")) {
			ids[r.Name] = r.KeyID
		}
		keys := w.aws.AccessKeys(t, "ivan")
		active := ""
		for id, s := range keys {
			if s == "Active" {
				active = "****" + id[16:]
			}
		}
		if ids["ivan"] == "" || ids["ivan"] != ids["default"] || ids["ivan"] != active {
			t.Fatalf("round %d: the keychain holds %v, IAM has %v; want both profiles on the one active key", round, ids, keys)
		}
		if got := decodeExport(t, w.mustBroker("export", "default")); got.AccessKeyID == "" {
			t.Fatalf("round %d: default does not work", round)
		}
	}
}

// Removing one of two profiles that hold the same key names the other and
// does not advise deactivating a key it still uses.
func TestRemoveSharedKeyNamesOtherHolder(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("ivan")
	w.writeConfig(fmt.Sprintf("[default]\nregion = eu-west-1\nmfa_serial = %s\n\n[profile ivan]\nregion = eu-west-1\nmfa_serial = %s\n", u.serial, u.serial))
	keyLines := "aws_access_key_id = " + u.keyID + "\naws_secret_access_key = " + u.secret + "\n"
	credentialsFile(t, w, "[default]\n"+keyLines+"\n[ivan]\n"+keyLines)
	if r := w.cmd(nil, brokerBin, "import", "--yes"); r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	_, errOut, code := w.broker("remove", "--yes", "ivan")
	if code != 0 {
		t.Fatalf("remove: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, `Profile "default" still holds the key`) || strings.Contains(errOut, "deactivate") {
		t.Errorf("remove of a key another profile holds said:\n%s", errOut)
	}
	ids := map[string]string{}
	for _, r := range decodeList(w.mustBroker("list", "--json")) {
		ids[r.Name] = r.KeyID
	}
	if ids["default"] != "****"+u.keyID[16:] || ids["ivan"] != "" {
		t.Errorf("after remove ivan the keychain holds %v", ids)
	}
}
