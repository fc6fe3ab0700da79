package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

// A description set as the console does moves to the new key when the
// key is rotated; the old key shows as left inactive by the rotation.
func TestDescriptionMovesWithRotation(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	old := w.key.AccessKeyID
	l, err := w.b.Open(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Describe(ctx, old, "", "laptop: broker"); err != nil {
		t.Fatal(err)
	}
	if tags := w.aws.UserTags(t, testUser); tags[old] != "laptop: broker" {
		t.Fatalf("tags after describe: %v", tags)
	}
	if _, err := l.Describe(ctx, old, "", "bad\nline"); !errors.Is(err, ErrBadDescription) {
		t.Errorf("a description with a newline: %v", err)
	}
	res, err := w.b.Rotate(ctx, "dev", RotateOptions{})
	if err != nil || res.Described != "laptop: broker" {
		t.Fatalf("rotate: %+v, %v", res, err)
	}
	if l, err = w.b.Open(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	list, err := l.Keys(ctx, 90)
	if err != nil {
		t.Fatal(err)
	}
	if k := keyByID(list.Keys, res.NewKeyID); k.Description != "laptop: broker" || !k.InKeychain {
		t.Errorf("the new key: %+v", k)
	}
	if k := keyByID(list.Keys, old); k.Description != "" || k.RotatedOut == nil || k.Status != StatusInactive {
		t.Errorf("the old key: %+v", k)
	}
	// Deleting the old key removes its tags; activating one drops the mark.
	if _, err := l.ChangeKey(ctx, ActionActivate, old, "", false); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.aws.UserTags(t, testUser)[rotatedTag(old)]; ok {
		t.Error("an activated key still carries the rotation's mark")
	}
	if _, err := l.Describe(ctx, res.NewKeyID, "", ""); err != nil {
		t.Fatal(err)
	}
	if tags := w.aws.UserTags(t, testUser); len(tags) != 0 {
		t.Errorf("tags after removing the description: %v", tags)
	}
}

// Seed step 3: a key last used by anything but broker stops the rotation
// before any change; --force goes ahead.
func TestRotateUseCheck(t *testing.T) {
	t.Parallel()
	for _, use := range []struct{ service, region string }{{"iam", "us-east-1"}, {"sts", "ap-southeast-2"}} {
		t.Run(use.service+"-"+use.region, func(t *testing.T) {
			t.Parallel()
			w := newKeyWorld(t, "")
			ctx := t.Context()
			// broker's MFA session is cached; then another program uses the key.
			if _, err := w.b.Credentials(ctx, "dev"); err != nil {
				t.Fatal(err)
			}
			useKey(t, w.aws, w.key.AccessKeyID, w.key.SecretAccessKey, use.service, use.region)
			before := w.aws.AccessKeys(t, testUser)
			_, err := w.b.Rotate(ctx, "dev", RotateOptions{})
			var inUse *UseError
			if !errors.As(err, &inUse) || inUse.Service != use.service || inUse.Region != use.region || inUse.When.IsZero() {
				t.Fatalf("rotate of a key %s used: %v", use.service, err)
			}
			after := w.aws.AccessKeys(t, testUser)
			if len(after) != len(before) || after[w.key.AccessKeyID] != StatusActive || w.stored() != w.key ||
				w.aws.Count(t, "CreateAccessKey") != 0 {
				t.Errorf("a refused rotate changed things: %v → %v", before, after)
			}
			if _, err := w.b.Vault.Rotation("dev"); !errors.Is(err, vault.ErrNotFound) {
				t.Errorf("a refused rotate left a journal: %v", err)
			}
			if _, err := w.b.Rotate(ctx, "dev", RotateOptions{Force: true}); err != nil {
				t.Fatalf("rotate --force: %v", err)
			}
			w.checkRotated("after rotate --force", w.key.AccessKeyID)
		})
	}
}

// otherAccountSTS says that one key ID belongs to another account, which
// moto (one account for everything) cannot.
type otherAccountSTS struct {
	broker.STSAPI
	id string
}

func (s otherAccountSTS) GetAccessKeyInfo(ctx context.Context, in *sts.GetAccessKeyInfoInput, opts ...func(*sts.Options)) (*sts.GetAccessKeyInfoOutput, error) {
	if aws.ToString(in.AccessKeyId) == s.id {
		return &sts.GetAccessKeyInfoOutput{Account: aws.String("210987654321")}, nil
	}
	return s.STSAPI.GetAccessKeyInfo(ctx, in, opts...)
}

func TestFind(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	const foreign = "AKIA0THERACC0UNT0000"
	real := a.b.Clients.STS
	a.b.Clients.STS = func(c broker.Creds, region string) broker.STSAPI {
		return otherAccountSTS{real(c, region), foreign}
	}
	ctx := t.Context()
	info, err := a.b.Find(ctx, "dev", foreign)
	if err != nil || info.ThisAccount || info.Account != "210987654321" || info.Key != nil || a.codes.count() != 0 {
		t.Fatalf("a foreign key: %+v, %v, %d codes", info, err, a.codes.count())
	}
	info, err = a.b.Find(ctx, "dev", a.bobUsed)
	if err != nil || !info.ThisAccount || info.Key == nil || info.Key.User != "bob" || info.Key.LastService != "iam" ||
		info.Key.Status != StatusActive || info.Stored != "" {
		t.Fatalf("bob's key: %+v, %v", info, err)
	}
	info, err = a.b.Find(ctx, "dev", a.key.AccessKeyID)
	if err != nil || info.Key == nil || info.Key.User != testUser || info.Stored != "dev" {
		t.Fatalf("the stored key: %+v, %v", info, err)
	}
	const temporary = "ASIA0TEMPSESSI0N0000" // moto's sessions have an AKIA ID
	info, err = a.b.Find(ctx, "dev", temporary)
	if err != nil || !info.Temporary || info.Key != nil || !info.ThisAccount {
		t.Fatalf("a session's key: %+v, %v", info, err)
	}
	info, err = a.b.Find(ctx, "dev", "AKIA0000000000000000")
	if err != nil || !info.NoOwner {
		t.Fatalf("a key nobody has: %+v, %v", info, err)
	}
}

// revoke --key deactivates another user's key at once; --sessions puts
// the documented policy denying sessions issued before now.
func TestRevokeOtherKeyAndSessions(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	ctx := t.Context()
	start := time.Now().UTC().Truncate(time.Second)
	res, err := a.b.Revoke(ctx, "dev", RevokeOptions{KeyID: a.bobUsed, Sessions: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Other || res.User != "bob" || res.NewKeyID != "" || res.LastUsed == nil || res.Denied == nil {
		t.Fatalf("result %+v", res)
	}
	if keys := a.aws.AccessKeys(t, "bob"); keys[a.bobUsed] != StatusInactive || keys[a.bobNever] != StatusActive {
		t.Errorf("bob's keys after revoke: %v", keys)
	}
	if keys := a.aws.AccessKeys(t, testUser); len(keys) != 1 || keys[a.key.AccessKeyID] != StatusActive {
		t.Errorf("alice's keys after revoking bob's: %v", keys)
	}
	var doc struct {
		Statement []struct {
			Effect, Action, Resource string
			Condition                map[string]map[string]string
		}
	}
	text := a.aws.UserPolicy(t, "bob", RevokePolicyName)
	if err := json.Unmarshal([]byte(text), &doc); err != nil || len(doc.Statement) != 1 {
		t.Fatalf("bob's policy %s: %v", text, err)
	}
	st := doc.Statement[0]
	issued, err := time.Parse(time.RFC3339, st.Condition["DateLessThan"]["aws:TokenIssueTime"])
	if st.Effect != "Deny" || st.Action != "*" || st.Resource != "*" || err != nil || issued.Before(start) || issued.After(time.Now().Add(2*time.Second)) {
		t.Errorf("bob's policy %s", text)
	}
	if a.aws.UserPolicy(t, testUser, RevokePolicyName) != "" {
		t.Error("the revoking user got the policy too")
	}
	if _, err := a.b.Revoke(ctx, "dev", RevokeOptions{KeyID: "AKIA0000000000000000"}); !errors.Is(err, ErrNoOwner) {
		t.Errorf("revoking a key nobody has: %v", err)
	}
}

// After a rotation the user has two keys, one left inactive by it: revoke
// deletes that one to make a replacement, as the next rotate would.
func TestRevokeAfterRotate(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	ctx := t.Context()
	first := w.key.AccessKeyID
	w.cacheSession()
	if _, err := w.b.Rotate(ctx, "dev", RotateOptions{}); err != nil {
		t.Fatal(err)
	}
	second := w.stored().AccessKeyID
	res, err := w.b.Revoke(ctx, "dev", RevokeOptions{Sessions: true})
	if err != nil || res.NoSlot || res.NewKeyID == "" || res.KeyID != second || res.Denied == nil || res.Denied.User != testUser {
		t.Fatalf("revoke after rotate: %+v, %v", res, err)
	}
	if doc := w.aws.UserPolicy(t, testUser, RevokePolicyName); !strings.Contains(doc, `"DateLessThan":{"aws:TokenIssueTime":"`) {
		t.Errorf("the sessions policy on the profile's own user: %q", doc)
	}
	if n := w.sessionsOf(second) + w.sessionsOf(res.NewKeyID); n != 0 {
		t.Errorf("%d cached sessions of the user's keys remain", n)
	}
	keys := w.checkInvariants("after revoke")
	if _, ok := keys[first]; ok || keys[second] != StatusInactive || keys[res.NewKeyID] != StatusActive {
		t.Errorf("keys %v; want the first key deleted, the revoked one inactive, a new one", keys)
	}
	// The revoked key is kept for the investigation: not marked for the next rotate to delete.
	var limit *KeyLimitError
	if _, err := w.b.Rotate(ctx, "dev", RotateOptions{Force: true}); !errors.As(err, &limit) {
		t.Errorf("rotate after revoke: %v, want the two-key refusal", err)
	}
}
