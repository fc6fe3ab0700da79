package busguard

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	withBus := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(withBus, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	empty := t.TempDir()
	for _, c := range []struct {
		env, runtimeDir, address, why string
	}{
		{"unix:path=/run/user/1000/bus", empty, "unix:path=/run/user/1000/bus", ""},
		{"", withBus, "unix:path=" + withBus + "/bus", ""},
		{"autolaunch:", withBus, "unix:path=" + withBus + "/bus", ""},
		{"", empty, "", "DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist"},
		{"autolaunch:", empty, "", "autolaunch: (broker never starts a session bus)"},
		{"", "", "", "/run/user/4242424/bus does not exist"},
	} {
		address, why := find(c.env, c.runtimeDir, 4242424)
		if address != c.address || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
			t.Errorf("find(%q, %q) = %q, %q; want %q, %q", c.env, c.runtimeDir, address, why, c.address, c.why)
		}
	}
}
