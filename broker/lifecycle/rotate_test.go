package lifecycle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/internal/moto"
	"github.com/broker-dev/broker/vault"
)

var errCrash = errors.New("injected crash")

// TestRotateCrashSafety stops a rotation after each step in turn, as if
// broker had been killed there, and checks that the keychain's key is still
// active in IAM and the user has at most two keys; the next rotate then
// completes: exactly one key, active and stored, no journal. Every rotate
// asks for at most one MFA code.
func TestRotateCrashSafety(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	w.cacheSession()
	for _, step := range rotateSteps {
		old := w.stored().AccessKeyID
		before := w.codes.count()
		_, err := w.b.Rotate(ctx, "dev", RotateOptions{afterStep: func(s string) error {
			if s == step {
				return errCrash
			}
			return nil
		}})
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash after %s: rotate returned %v", step, err)
		}
		w.checkInvariants("after a crash at " + step)
		if step == stepCreate {
			// The new key's secret is lost: an orphan the next rotate deletes.
			if n := len(w.aws.AccessKeys(t, testUser)); n != 2 {
				t.Errorf("after a crash at create the user has %d keys, want 2", n)
			}
		}
		// After finish the journal is gone and the next rotate is a new
		// one, of a key with no cached session: its use cannot be read.
		res, err := w.b.Rotate(ctx, "dev", RotateOptions{Force: step == stepFinish})
		if err != nil {
			t.Fatalf("rotate after a crash at %s: %v", step, err)
		}
		if step == stepCreate && res.Orphan == "" {
			t.Errorf("the orphan of a crash at create was not reported")
		}
		w.checkRotated("after resuming from "+step, old)
		if n := w.codes.count() - before; n > 2 {
			t.Errorf("crash at %s and resume asked %d codes, want one per command", step, n)
		}
		// Sessions are minted with the keychain's (new) key now.
		if _, err := w.b.Credentials(ctx, "dev"); err != nil {
			t.Fatal(err)
		}
		reqs := w.aws.Requests(t)
		var last string
		for _, r := range reqs {
			if r.Action == "GetSessionToken" {
				last = r.SigningKeyID
			}
		}
		if last != w.stored().AccessKeyID {
			t.Errorf("after resuming from %s the session was signed by %s, want the stored key", step, last)
		}
	}
}

func TestRotateOneCode(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	old := w.key.AccessKeyID
	w.cacheSession()
	res, err := w.b.Rotate(t.Context(), "dev", RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OldKeyID != old || res.NewKeyID != w.stored().AccessKeyID || res.OldDeleted || res.Sessions != 1 || res.TagErr != nil {
		t.Errorf("result %+v", res)
	}
	w.checkRotated("after rotate", old)
	if keys := w.aws.AccessKeys(t, testUser); keys[old] != StatusInactive || len(keys) != 2 {
		t.Errorf("keys after rotate: %v; want the old key kept, inactive", keys)
	}
	if n := w.codes.count(); n != 1 {
		t.Errorf("rotate asked %d MFA codes, want 1", n)
	}
	// The new key was checked with GetCallerIdentity signed by it; IAM
	// calls were signed with the MFA session and named the user.
	var verified bool
	for _, r := range w.aws.Requests(t) {
		switch {
		case r.Action == "GetCallerIdentity" && r.SigningKeyID == res.NewKeyID:
			verified = true
		case r.Service == "iam" && (!r.SecurityToken || r.Params["UserName"] != testUser && r.Action != "GetAccessKeyLastUsed"):
			t.Errorf("IAM %s: session token %v, UserName %q", r.Action, r.SecurityToken, r.Params["UserName"])
		}
	}
	if !verified {
		t.Error("the new key was not verified with GetCallerIdentity")
	}
}

// The old key is deactivated and kept (seed step 4), marked as the
// rotation's; the next rotate deletes it first. An inactive key broker did
// not leave behind is deleted only with DeleteInactive.
func TestRotateKeepsOldKey(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	old := w.key.AccessKeyID
	w.cacheSession()
	if _, err := w.b.Rotate(ctx, "dev", RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := w.b.Open(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	list, err := l.Keys(ctx, DefaultKeyMaxAge)
	if err != nil {
		t.Fatal(err)
	}
	var kept AccessKey
	for _, k := range list.Keys {
		if k.ID == old {
			kept = k
		}
	}
	if kept.Status != StatusInactive || kept.RotatedOut == nil || time.Since(*kept.RotatedOut) > time.Minute {
		t.Fatalf("the old key in the listing: %+v; want inactive, left by the rotation just now", kept)
	}
	mid := w.stored().AccessKeyID
	res, err := w.b.Rotate(ctx, "dev", RotateOptions{})
	if err != nil || res.DeletedInactive != old || !res.RotatedOut {
		t.Fatalf("second rotate: %+v, %v; want the first old key deleted first", res, err)
	}
	keys := w.aws.AccessKeys(t, testUser)
	if _, ok := keys[old]; ok || keys[mid] != StatusInactive || len(keys) != 2 {
		t.Errorf("keys after the second rotate: %v", keys)
	}
	// An inactive key someone else deactivated is not broker's to delete.
	if l, err = w.b.Open(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ChangeKey(ctx, ActionActivate, mid, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ChangeKey(ctx, ActionDeactivate, mid, "", false); err != nil {
		t.Fatal(err)
	}
	var limit *KeyLimitError
	if _, err := w.b.Rotate(ctx, "dev", RotateOptions{}); !errors.As(err, &limit) {
		t.Fatalf("rotate with an inactive spare not left by broker: %v, want KeyLimitError", err)
	}
	if spare, ok := limit.Spare(); !ok || spare.ID != mid {
		t.Errorf("Spare = %+v, want the middle key", spare)
	}
	now := w.stored().AccessKeyID
	res, err = w.b.Rotate(ctx, "dev", RotateOptions{DeleteInactive: true})
	if err != nil || res.DeletedInactive != mid || res.RotatedOut {
		t.Fatalf("rotate --delete-inactive: %+v, %v", res, err)
	}
	w.checkRotated("after rotate --delete-inactive", now)
}

func TestRotateTwoActiveKeysRefused(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	w.aws.NewUserKey(t, testUser)
	w.cacheSession()
	before := w.aws.AccessKeys(t, testUser)
	for _, opts := range []RotateOptions{{}, {DeleteInactive: true}} {
		_, err := w.b.Rotate(t.Context(), "dev", opts)
		var limit *KeyLimitError
		if !errors.As(err, &limit) || len(limit.Keys) != 2 {
			t.Fatalf("rotate %+v with two active keys: %v", opts, err)
		}
	}
	after := w.aws.AccessKeys(t, testUser)
	if len(after) != 2 || after[w.key.AccessKeyID] != StatusActive || w.stored() != w.key {
		t.Errorf("a refused rotate changed things: %v → %v", before, after)
	}
	for id, s := range before {
		if after[id] != s {
			t.Errorf("key %s: %s → %s", id, s, after[id])
		}
	}
	if _, err := w.b.Vault.Rotation("dev"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("a refused rotate left a journal: %v", err)
	}
}

// Two rotations at once take turns (lockKeys): each would otherwise take the
// other's new key for an orphan, or meet the two-key limit.
func TestRotateConcurrent(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Force: the second rotates a key with no cached session, whose
			// use cannot be read (usecheck.go); the lock is what is tested.
			_, errs[i] = w.b.Rotate(t.Context(), "dev", RotateOptions{Force: true})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent rotate: %v", err)
		}
	}
	w.checkRotated("after two concurrent rotations", w.key.AccessKeyID)
}

// limitIAM is IAM where, as CreateAccessKey is called, another broker
// creates a key first, so IAM answers LimitExceeded.
type limitIAM struct {
	iamAPI
	t     *testing.T
	srv   *moto.Server
	other string // the key the other broker created
}

func (f *limitIAM) CreateAccessKey(context.Context, *iam.CreateAccessKeyInput, ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	f.other, _ = f.srv.NewUserKey(f.t, testUser)
	return nil, &smithy.GenericAPIError{Code: "LimitExceeded", Message: "Cannot exceed quota for AccessKeysPerUser: 2"}
}

// A CreateAccessKey that IAM refused created nothing: the failed rotation
// deletes no key, not even one it did not know of, and leaves no journal.
func TestRotateLimitExceededDeletesNothing(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	fake := &limitIAM{t: t, srv: w.aws}
	real := w.b.IAM
	w.b.IAM = func(c broker.Creds) iamAPI { fake.iamAPI = real(c); return fake }
	_, err := w.b.Rotate(t.Context(), "dev", RotateOptions{Force: true})
	if err == nil || !strings.Contains(err.Error(), "LimitExceeded") {
		t.Fatalf("rotate returned %v, want IAM's LimitExceeded", err)
	}
	keys := w.aws.AccessKeys(t, testUser)
	for _, id := range []string{w.key.AccessKeyID, fake.other} {
		if keys[id] != "Active" {
			t.Errorf("after a refused CreateAccessKey the key %s is %q, want Active (keys %v)", id, keys[id], keys)
		}
	}
	if got := w.stored().AccessKeyID; got != w.key.AccessKeyID {
		t.Errorf("the keychain holds %s, want the old key %s", got, w.key.AccessKeyID)
	}
	if _, err := w.b.Vault.Rotation("dev"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("journal after a refused CreateAccessKey: %v, want none", err)
	}
}
