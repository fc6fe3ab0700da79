package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/internal/moto"
	"github.com/broker-dev/broker/vault"
)

// checkUnchanged fails unless alice still has just her first key, active
// and stored, and no rotation is journaled.
func (w *keyWorld) checkUnchanged(when string) {
	w.t.Helper()
	keys := w.aws.AccessKeys(w.t, testUser)
	if len(keys) != 1 || keys[w.key.AccessKeyID] != StatusActive || w.stored() != w.key || w.aws.Count(w.t, "CreateAccessKey") != 0 {
		w.t.Errorf("%s: keys %v, stored %s", when, keys, w.stored().AccessKeyID)
	}
	if _, err := w.b.Vault.Rotation("dev"); !errors.Is(err, vault.ErrNotFound) {
		w.t.Errorf("%s: a journal is left: %v", when, err)
	}
}

// firstSignedBy is the action of the first call signed by key id among
// those recorded after the first skip.
func (w *keyWorld) firstSignedBy(id string, skip int) string {
	for _, r := range w.aws.Requests(w.t)[skip:] {
		if r.SigningKeyID == id {
			return r.Action
		}
	}
	return ""
}

// With no MFA session cached, the use check reads IAM before broker signs
// anything else with the key, and asks for no code: moto (like an IAM that
// records a use before answering) then answers with that very call, so the
// earlier use cannot be seen and the rotation stops; --force goes ahead.
func TestRotateUseCheckWithoutSession(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	useKey(t, w.aws, w.key.AccessKeyID, w.key.SecretAccessKey, "sts", "ap-southeast-2")
	skip := len(w.aws.Requests(t))
	_, err := w.b.Rotate(ctx, "dev", RotateOptions{})
	var unseen *UnseenUseError
	var inUse *UseError
	if !errors.As(err, &unseen) && !errors.As(err, &inUse) {
		t.Fatalf("rotate of a key used elsewhere, no session cached: %v", err)
	}
	if unseen != nil && unseen.Denied {
		t.Errorf("the check says IAM refused it: %v", err)
	}
	if first := w.firstSignedBy(w.key.AccessKeyID, skip); first != "GetAccessKeyLastUsed" {
		t.Errorf("the first call signed by the key was %q, want GetAccessKeyLastUsed", first)
	}
	if n := w.codes.count(); n != 0 {
		t.Errorf("a refused rotate asked %d MFA codes", n)
	}
	w.checkUnchanged("after the refused rotate")
	if _, err := w.b.Rotate(ctx, "dev", RotateOptions{Force: true}); err != nil {
		t.Fatalf("rotate --force: %v", err)
	}
	w.checkRotated("after rotate --force", w.key.AccessKeyID)
}

// deniedWithoutMFA is IAM under the MFA-enforcing policy of an account that
// does not exempt GetAccessKeyLastUsed: a long-term key alone is refused.
type deniedWithoutMFA struct {
	iamAPI
	longTerm bool
}

func (d deniedWithoutMFA) GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, opts ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	if d.longTerm {
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "explicit deny in an identity-based policy"}
	}
	return d.iamAPI.GetAccessKeyLastUsed(ctx, in, opts...)
}

// Refused to the key alone, the check mints the MFA session (one code, for
// the whole rotation) and reads with it; that GetSessionToken is then all
// IAM shows, and the check says so rather than passing.
func TestRotateUseCheckDeniedWithoutMFA(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	real := w.b.IAM
	w.b.IAM = func(c broker.Creds) iamAPI { return deniedWithoutMFA{real(c), c.SessionToken == ""} }
	_, err := w.b.Rotate(ctx, "dev", RotateOptions{})
	var unseen *UnseenUseError
	if !errors.As(err, &unseen) || !unseen.Denied {
		t.Fatalf("rotate with GetAccessKeyLastUsed denied to the key: %v", err)
	}
	w.checkUnchanged("after the refused rotate")
	if _, err := w.b.Rotate(ctx, "dev", RotateOptions{Force: true}); err != nil {
		t.Fatalf("rotate --force: %v", err)
	}
	w.checkRotated("after rotate --force", w.key.AccessKeyID)
	if n := w.codes.count(); n != 1 {
		t.Errorf("%d MFA codes asked, want 1 (the session minted for the check serves the rotation)", n)
	}
}

// The own listing reads the keychain key's use before Open's calls signed
// by the key: through a cached session it shows another program's use;
// without one, that the use is unknown, never broker's own call.
func TestKeysShowOwnKeyUse(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	list := func() AccessKey {
		t.Helper()
		l, err := w.b.OpenWithOwnUse(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		keys, err := l.Keys(ctx, DefaultKeyMaxAge)
		if err != nil {
			t.Fatal(err)
		}
		return keyByID(keys.Keys, w.key.AccessKeyID)
	}
	if k := list(); k.UseUnseen == "" || k.LastUsed != nil || slices.Contains(k.Flags, FlagUnused) {
		t.Errorf("no session cached: %+v; want the use unknown, and not flagged unused", k)
	}
	useKey(t, w.aws, w.key.AccessKeyID, w.key.SecretAccessKey, "iam", "us-east-1") // the session is cached now
	if k := list(); k.UseUnseen != "" || k.LastService != "iam" || k.LastUsed == nil {
		t.Errorf("another program's use, session cached: %+v", k)
	}
}

// A key stored under two profiles is replaced in both, also when the
// rotation is resumed after a crash between the two; the next rotate
// refuses to delete the old key while a profile still stores it.
func TestRotateEveryHolder(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "[profile ivan]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::"+moto.DefaultAccountID+":mfa/"+testUser+"\n")
	ctx := t.Context()
	if err := w.b.Vault.SetKey("ivan", w.key); err != nil {
		t.Fatal(err)
	}
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
	// ivan still holds the old key: rotating it now would make a third.
	var elsewhere *RotatingElsewhereError
	if _, err := w.b.Rotate(ctx, "ivan", RotateOptions{Force: true}); !errors.As(err, &elsewhere) || elsewhere.Profile != "dev" {
		t.Fatalf("rotate of ivan while dev's rotation of the same key is interrupted: %v", err)
	}
	res, err := w.b.Rotate(ctx, "dev", RotateOptions{})
	if err != nil || !slices.Equal(res.AlsoSwitched, []string{"ivan"}) {
		t.Fatalf("resumed rotate: %+v, %v", res, err)
	}
	w.checkRotated("after the resumed rotation", w.key.AccessKeyID)
	if k, err := w.b.Vault.Key("ivan"); err != nil || k != w.stored() {
		t.Errorf("ivan holds %s (%v), dev %s", k.AccessKeyID, err, w.stored().AccessKeyID)
	}
	// A profile storing the inactive old key (stored again, say): its
	// deletion to free a slot is refused, and nothing changes.
	if err := w.b.Vault.SetKey("stale", w.key); err != nil {
		t.Fatal(err)
	}
	before := w.aws.AccessKeys(t, testUser)
	_, err = w.b.Rotate(ctx, "dev", RotateOptions{Force: true})
	var stored *StoredElsewhereError
	if !errors.As(err, &stored) || !slices.Equal(stored.Profiles, []string{"stale"}) {
		t.Fatalf("rotate with the old key stored for stale: %v", err)
	}
	if after := w.aws.AccessKeys(t, testUser); len(after) != len(before) || after[w.key.AccessKeyID] != StatusInactive {
		t.Errorf("a refused rotate changed the keys: %v → %v", before, after)
	}
}
