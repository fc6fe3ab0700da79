package vault

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

func TestRotationJournal(t *testing.T) {
	v := New(keyring.NewArrayKeyring(nil), uniqueService(t))
	started := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := v.Rotation("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rotation of an absent journal: %v, want ErrNotFound", err)
	}
	if err := v.RemoveRotation("dev"); err != nil {
		t.Fatalf("RemoveRotation of an absent journal: %v", err)
	}
	r := Rotation{Profile: "dev", State: "creating", OldKeyID: testKeyID, Known: []string{testKeyID}, Started: started}
	if err := v.SetRotation(r); err != nil {
		t.Fatal(err)
	}
	got, err := v.Rotation("dev")
	if err != nil || got.State != "creating" || got.OldKeyID != testKeyID || !slices.Equal(got.Known, r.Known) ||
		got.NewKey.AccessKeyID != "" || !got.Started.Equal(started) {
		t.Fatalf("Rotation = %+v, %v", got, err)
	}
	r.State, r.KeepOld = "created", true
	r.NewKey = Key{AccessKeyID: "AKIAI44QH8DHBEXAMPLE", SecretAccessKey: testSecret2, Added: started}
	if err := v.SetRotation(r); err != nil {
		t.Fatal(err)
	}
	got, err = v.Rotation("dev")
	if err != nil || got.State != "created" || got.NewKey != r.NewKey || !got.KeepOld {
		t.Fatalf("Rotation after update = %+v, %v", got, err)
	}
	// A journal is not a key: it never shows up as a profile with a key.
	if p, err := v.KeyProfiles(); err != nil || len(p) != 0 {
		t.Fatalf("KeyProfiles with a journal = %q, %v", p, err)
	}
	if err := v.RemoveRotation("dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Rotation("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rotation after RemoveRotation: %v", err)
	}

	for _, bad := range []Rotation{
		{State: "creating", OldKeyID: testKeyID},
		{Profile: "dev", OldKeyID: testKeyID},
		{Profile: "dev", State: "created", OldKeyID: testKeyID, NewKey: Key{SecretAccessKey: testSecret}},
	} {
		err := v.SetRotation(bad)
		if err == nil {
			t.Fatalf("SetRotation(%+v) stored an incomplete journal", bad)
		}
		noSecret(t, err)
	}

	// Garbage is not found, quotes nothing, and stays.
	key := v.itemKey(kindRotation, "dev")
	if err := v.ring.Set(keyring.Item{Key: key, Data: []byte("not json " + testSecret)}); err != nil {
		t.Fatal(err)
	}
	_, err = v.Rotation("dev")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rotation of garbage: %v", err)
	}
	noSecret(t, err)
	if err := v.RemoveRotation("dev"); err != nil {
		t.Fatal(err)
	}
}
