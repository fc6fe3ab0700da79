package busguard

import (
	"io/fs"
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

func TestBusFree(t *testing.T) {
	for _, c := range []struct {
		env    map[string]string
		record string // what the record holds, "" for none
		path   string // where busFree must look
		free   bool
	}{
		{map[string]string{"BROKER_BACKEND": "keyctl"}, "", "", true},
		{map[string]string{"BROKER_BACKEND": "pass"}, "secret-service", "", true},
		{map[string]string{"BROKER_BACKEND": "secret-service"}, "keyctl", "/h/.config/broker/backend", false},
		{map[string]string{"BROKER_BACKEND": "kwallet"}, "", "", false},
		{map[string]string{"HOME": "/h"}, "keyctl\n", "/h/.config/broker/backend", true},
		{map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "keyctl", "/x/broker/backend", true},
		{map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "rel"}, "keyctl", "", false},
		{map[string]string{"HOME": "/h"}, "secret-service", "/h/.config/broker/backend", false},
		{map[string]string{"HOME": "/h"}, "", "/h/.config/broker/backend", false},
		{map[string]string{}, "keyctl", "", false},
	} {
		read := func(path string) ([]byte, error) {
			if c.record == "" || path != c.path {
				return nil, fs.ErrNotExist
			}
			return []byte(c.record), nil
		}
		why := busFree(func(k string) string { return c.env[k] }, read)
		if (why != "") != c.free {
			t.Errorf("busFree with %v and record %q = %q, want free %v", c.env, c.record, why, c.free)
		}
	}
}
