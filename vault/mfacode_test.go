package vault

import (
	"errors"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

func TestMFACode(t *testing.T) {
	v := New(keyring.NewArrayKeyring(nil), uniqueService(t))
	const serial, other = "arn:aws:iam::123456789012:mfa/alice", "arn:aws:iam::123456789012:mfa/bob"
	used := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := v.MFACode(serial); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MFACode of an unused device: %v, want ErrNotFound", err)
	}
	if err := v.RemoveMFACode(serial); err != nil {
		t.Fatalf("RemoveMFACode of an absent code: %v", err)
	}
	if err := v.SetMFACode(MFACode{Serial: serial, Code: "123456", Used: used}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetMFACode(MFACode{Serial: serial, Code: "654321", Used: used.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := v.MFACode(serial)
	if err != nil || got.Code != "654321" || got.Serial != serial || !got.Used.Equal(used.Add(time.Minute)) {
		t.Fatalf("MFACode = %+v, %v; want the later code", got, err)
	}
	if _, err := v.MFACode(other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MFACode of another device: %v, want ErrNotFound", err)
	}
	// A used code is neither a key nor a session.
	if p, err := v.KeyProfiles(); err != nil || len(p) != 0 {
		t.Fatalf("KeyProfiles with a used code = %q, %v", p, err)
	}
	if s, err := v.Sessions(); err != nil || len(s) != 0 {
		t.Fatalf("Sessions with a used code = %v, %v", s, err)
	}
	if err := v.RemoveMFACode(serial); err != nil {
		t.Fatal(err)
	}
	if _, err := v.MFACode(serial); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MFACode after RemoveMFACode: %v", err)
	}
	for _, bad := range []MFACode{{Code: "123456"}, {Serial: serial}} {
		if err := v.SetMFACode(bad); err == nil {
			t.Errorf("SetMFACode(%+v) stored an incomplete record", bad)
		}
	}
	// Garbage is not found.
	if err := v.ring.Set(keyring.Item{Key: v.itemKey(kindMFACode, mfaCodeName(serial)), Data: []byte("{")}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.MFACode(serial); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MFACode of garbage: %v", err)
	}
}
