package lifecycle

import (
	"errors"
	"testing"

	"github.com/broker-dev/broker/vault"
)

// lastSigner is the key that signed moto's latest GetSessionToken.
func (w *keyWorld) lastSigner() string {
	w.t.Helper()
	var last string
	for _, r := range w.aws.Requests(w.t) {
		if r.Action == "GetSessionToken" {
			last = r.SigningKeyID
		}
	}
	return last
}

// sessionsOf counts the cached sessions minted from key id.
func (w *keyWorld) sessionsOf(id string) int {
	w.t.Helper()
	all, err := w.b.Vault.Sessions()
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for _, s := range all {
		if s.SourceKeyID == id {
			n++
		}
	}
	return n
}

func TestRevokeWithReplacement(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	old := w.key.AccessKeyID
	if _, err := w.b.Credentials(ctx, "dev"); err != nil { // a cached session from the old key
		t.Fatal(err)
	}
	res, err := w.b.Revoke(ctx, "dev", RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := w.checkInvariants("after revoke")
	stored := w.stored().AccessKeyID
	if res.KeyID != old || res.NewKeyID != stored || stored == old || res.NoSlot || res.ReplaceErr != nil {
		t.Errorf("result %+v, stored %s", res, stored)
	}
	if keys[old] != StatusInactive {
		t.Errorf("the revoked key is %q in IAM, want Inactive", keys[old])
	}
	if res.Sessions != 1 || res.LatestExpiry.IsZero() || res.KeyCreated.IsZero() || res.LastUsed == nil {
		t.Errorf("result lacks what the next steps need: %+v", res)
	}
	if n := w.sessionsOf(old); n != 0 {
		t.Errorf("%d cached sessions of the revoked key remain", n)
	}
	if _, err := w.b.Vault.Rotation("dev"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("revoke left a journal: %v", err)
	}
	if _, err := w.b.Credentials(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	if signer := w.lastSigner(); signer != stored {
		t.Errorf("the next session was minted with %s, want the replacement", signer)
	}
	if n := w.codes.count(); n != 2 { // one for the first session, none for revoke (cached), one after
		t.Errorf("%d codes asked, want 2", n)
	}
}

func TestRevokeWithoutFreeSlot(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	old := w.key.AccessKeyID
	otherID, _ := w.aws.NewUserKey(t, testUser)
	res, err := w.b.Revoke(ctx, "dev", RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoSlot || res.NewKeyID != "" || res.KeyID != old || res.Sessions != 1 {
		t.Errorf("result %+v", res)
	}
	keys := w.aws.AccessKeys(t, testUser)
	if keys[old] != StatusInactive || keys[otherID] != StatusActive || len(keys) != 2 {
		t.Errorf("keys after revoke: %v", keys)
	}
	if w.stored() != w.key {
		t.Error("revoke without a free slot changed the stored key")
	}
	if n := w.sessionsOf(old); n != 0 {
		t.Errorf("%d cached sessions of the revoked key remain", n)
	}
}

// A revoke that finds an interrupted rotation finishes it, keeping the old
// key inactive: that key is the one being revoked.
func TestRevokeFinishesInterruptedRotation(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	old := w.key.AccessKeyID
	w.cacheSession()
	_, err := w.b.Rotate(ctx, "dev", RotateOptions{afterStep: func(s string) error {
		if s == stepSwitch {
			return errCrash
		}
		return nil
	}})
	if !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	res, err := w.b.Revoke(ctx, "dev", RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := w.checkInvariants("after revoke")
	if res.KeyID != old || res.Resumed != stateCreated || res.NewKeyID != w.stored().AccessKeyID || keys[old] != StatusInactive {
		t.Errorf("result %+v, keys %v", res, keys)
	}
}
