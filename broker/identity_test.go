package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

// askedSTS is what callerSTS clients share: the keys AWS knows (ID →
// user name), the questions asked per key, and how many were in flight.
type askedSTS struct {
	known          map[string]string
	mu             sync.Mutex
	asked          map[string]int
	inFlight, most int
}

// callerSTS is an STS client signed with key ID id that answers
// GetCallerIdentity as moto does with auth enforced.
type callerSTS struct {
	stsAPI // nil: only GetCallerIdentity is called
	id     string
	s      *askedSTS
}

func (f callerSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.s.mu.Lock()
	f.s.asked[f.id]++
	f.s.inFlight++
	f.s.most = max(f.s.most, f.s.inFlight)
	f.s.mu.Unlock()
	defer func() { f.s.mu.Lock(); f.s.inFlight--; f.s.mu.Unlock() }()
	user, ok := f.s.known[f.id]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"), Arn: aws.String("arn:aws:iam::123456789012:user/team/" + user)}, nil
}

// TestIdentities: every key is asked about once, signed by itself, with at
// most the given number of questions at a time; each answer is that key's,
// and a key AWS refuses is a RejectedKeyError naming its profile.
func TestIdentities(t *testing.T) {
	fake := &askedSTS{known: map[string]string{}, asked: map[string]int{}}
	var keys []ProfileKey
	for i := range 9 {
		id := fmt.Sprintf("AKIA0TEST%011d", i)
		if i%3 != 1 {
			fake.known[id] = fmt.Sprintf("user%d", i)
		}
		keys = append(keys, ProfileKey{Profile: fmt.Sprintf("p%d", i), Key: vault.Key{AccessKeyID: id, SecretAccessKey: "secret"}})
	}
	cfg, err := awsconfig.Parse("config", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{Config: cfg, Vault: vault.New(keyring.NewArrayKeyring(nil), "test"),
		Clients: Clients{STS: func(c Creds, _ string) stsAPI { return callerSTS{id: c.AccessKeyID, s: fake} }}}

	who, errs := b.Identities(t.Context(), keys, 3)
	for i, k := range keys {
		if n := fake.asked[k.Key.AccessKeyID]; n != 1 {
			t.Errorf("key %d asked about %d times", i, n)
		}
		var rejected *RejectedKeyError
		if _, known := fake.known[k.Key.AccessKeyID]; !known {
			if !errors.As(errs[i], &rejected) || rejected.Profile != k.Profile || rejected.KeyID != MaskKeyID(k.Key.AccessKeyID) {
				t.Errorf("key %d, unknown to AWS: %v, want a RejectedKeyError for %s", i, errs[i], k.Profile)
			}
			continue
		}
		if want := fmt.Sprintf("user%d", i); errs[i] != nil || who[i].UserName != want || who[i].Account != "123456789012" {
			t.Errorf("key %d: %+v, %v; want %s", i, who[i], errs[i], want)
		}
	}
	if fake.most > 3 {
		t.Errorf("%d questions at a time, want at most 3", fake.most)
	}
	if who, errs := b.Identities(t.Context(), nil, 0); len(who) != 0 || len(errs) != 0 {
		t.Errorf("no keys: %v, %v", who, errs)
	}
}
