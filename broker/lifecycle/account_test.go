package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/internal/moto"
)

// useKey signs one call with a key, as a program other than broker would:
// moto records the key's last use (service, region).
func useKey(t testing.TB, srv *moto.Server, id, secret, service, region string) {
	t.Helper()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
	})
	var err error
	switch service {
	case "iam":
		_, err = iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: creds}).
			ListUsers(t.Context(), &iam.ListUsersInput{})
	case "sts":
		_, err = sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: creds}).
			GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	default:
		t.Fatalf("useKey: no client for %s", service)
	}
	if err != nil {
		t.Fatalf("signing a %s call with %s: %v", service, id, err)
	}
}

// account is a keyWorld with more users: bob has two active keys, one used
// with IAM by another program and one never used; carol one inactive key
// with a description; dave none.
type account struct {
	*keyWorld
	bobUsed, bobNever, carol string
}

func newAccount(t *testing.T) *account {
	w := newKeyWorld(t, "")
	a := &account{keyWorld: w}
	var secret string
	a.bobUsed, secret = w.aws.NewUserKey(t, "bob")
	a.bobNever, _ = w.aws.NewUserKey(t, "bob")
	useKey(t, w.aws, a.bobUsed, secret, "iam", "us-east-1")
	a.carol, _ = w.aws.NewUserKey(t, "carol")
	w.aws.SetKeyStatus(t, "carol", a.carol, StatusInactive)
	w.aws.NewMFADevice(t, "dave") // a user without keys
	return a
}

func (a *account) open(t *testing.T) *Session {
	t.Helper()
	l, err := a.b.Open(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.tag(t.Context(), "carol", a.carol, "old build server"); err != nil {
		t.Fatal(err)
	}
	return l
}

func keyByID(keys []AccessKey, id string) AccessKey {
	k, _ := findKey(keys, id)
	return k
}

func TestAccountKeys(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	l := a.open(t)
	ctx := t.Context()
	before := len(a.aws.Requests(t))
	list, err := l.Account(ctx, 90, 30)
	if err != nil {
		t.Fatal(err)
	}
	if list.NoReport != "" || list.Account == "" || list.Users != 4 {
		t.Fatalf("list: report %q, account %q, %d users", list.NoReport, list.Account, list.Users)
	}
	want := map[string]struct {
		user, status, service string
		flags                 []string
	}{
		a.key.AccessKeyID: {testUser, StatusActive, "sts", []string{}},
		a.bobUsed:         {"bob", StatusActive, "iam", []string{FlagTwoActive}},
		a.bobNever:        {"bob", StatusActive, "", []string{FlagUnused, FlagTwoActive}},
		a.carol:           {"carol", StatusInactive, "", []string{}},
	}
	for _, k := range list.Keys {
		w, ok := want[k.ID]
		if !ok {
			t.Errorf("unexpected key %+v", k)
			continue
		}
		if k.User != w.user || k.Status != w.status || k.LastService != w.service || !slices.Equal(k.Flags, w.flags) || k.Created.IsZero() {
			t.Errorf("key %s: %+v; want user %s, %s, service %q, flags %v", k.ID, k, w.user, w.status, w.service, w.flags)
		}
		if (k.LastUsed != nil) != (w.service != "") {
			t.Errorf("key %s: last used %v", k.ID, k.LastUsed)
		}
	}
	if len(list.Keys) != 4 {
		t.Errorf("%d keys, want 4", len(list.Keys))
	}
	if d := keyByID(list.Keys, a.carol).Description; d != "old build server" {
		t.Errorf("carol's key's description %q", d)
	}
	// The report answered for the never-used keys: only the used ones (the
	// report in moto names no service) were asked about one by one.
	calls := map[string]int{}
	for _, r := range a.aws.Requests(t)[before:] {
		calls[r.Action]++
	}
	if calls["GetCredentialReport"] != 1 || calls["ListUsers"] != 1 || calls["ListAccessKeys"] != 4 ||
		calls["GetAccessKeyLastUsed"] != 2 || calls["ListUserTags"] != 3 { // dave has no key
		t.Errorf("IAM calls %v", calls)
	}

	// 100 days on: every active key is over 90 days old, and bob's used
	// key has not been used for 30 days.
	a.b.Now = func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }
	list, err = l.Account(ctx, 90, 30)
	if err != nil {
		t.Fatal(err)
	}
	if f := keyByID(list.Keys, a.bobUsed).Flags; !slices.Equal(f, []string{FlagOverMaxAge, FlagUnused, FlagTwoActive}) {
		t.Errorf("bob's used key 100 days on: %v", f)
	}
	if f := keyByID(list.Keys, a.carol).Flags; len(f) != 0 {
		t.Errorf("an inactive key is flagged: %v", f)
	}
}

// refusingIAM is moto's IAM for a caller without the credential report's
// permissions.
type refusingIAM struct{ iamAPI }

func (refusingIAM) GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform iam:GenerateCredentialReport"}
}

func TestAccountKeysWithoutReport(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	real := a.b.IAM
	a.b.IAM = func(c broker.Creds) iamAPI { return refusingIAM{real(c)} }
	l := a.open(t)
	list, err := l.Account(t.Context(), 90, 90)
	if err != nil {
		t.Fatal(err)
	}
	if list.NoReport != "IAM answered AccessDenied" || len(list.Keys) != 4 {
		t.Fatalf("without the report: %q, %d keys", list.NoReport, len(list.Keys))
	}
	if k := keyByID(list.Keys, a.bobUsed); k.LastService != "iam" || k.LastUsed == nil {
		t.Errorf("bob's used key without the report: %+v", k)
	}
	if n := a.aws.Count(t, "GetAccessKeyLastUsed"); n < 4 {
		t.Errorf("%d GetAccessKeyLastUsed calls, want one per key", n)
	}
}

func TestOtherUsersKeys(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	l := a.open(t)
	ctx := t.Context()
	list, err := l.KeysOf(ctx, "bob", 90)
	if err != nil {
		t.Fatal(err)
	}
	if list.User != "bob" || len(list.Keys) != 2 || keyByID(list.Keys, a.bobUsed).LastService != "iam" {
		t.Fatalf("bob's keys: %+v", list)
	}
	// The owner is found without --user; the console's rules hold.
	if _, err := l.ChangeKey(ctx, ActionDelete, a.bobNever, "", false); !errors.Is(err, ErrKeyActive) {
		t.Fatalf("deleting bob's active key: %v", err)
	}
	if _, err := l.ChangeKey(ctx, ActionDeactivate, a.bobNever, "carol", false); !errors.Is(err, ErrKeyNotUsers) {
		t.Fatalf("deactivating bob's key as carol's: %v", err)
	}
	ch, err := l.ChangeKey(ctx, ActionDeactivate, a.bobNever, "", false)
	if err != nil || ch.Key.User != "bob" {
		t.Fatalf("deactivating bob's key: %+v, %v", ch, err)
	}
	if got := a.aws.AccessKeys(t, "bob")[a.bobNever]; got != StatusInactive {
		t.Fatalf("bob's key is %q", got)
	}
	// Deleting carol's described key removes its description.
	if _, err := l.ChangeKey(ctx, ActionDelete, a.carol, "carol", false); err != nil {
		t.Fatal(err)
	}
	if tags := a.aws.UserTags(t, "carol"); len(tags) != 0 || len(a.aws.AccessKeys(t, "carol")) != 0 {
		t.Errorf("after deleting carol's key: tags %v", tags)
	}
	if got := a.aws.AccessKeys(t, testUser)[a.key.AccessKeyID]; got != StatusActive {
		t.Errorf("alice's key is %q", got)
	}
}

// rootReportIAM adds the root user's line to moto's credential report,
// which moto leaves out: an active root key, used a year ago.
type rootReportIAM struct{ iamAPI }

func (r rootReportIAM) GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, opts ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	out, err := r.iamAPI.GetCredentialReport(ctx, in, opts...)
	if err == nil {
		out.Content = append(out.Content, []byte("<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,true,"+
			"true,2021-03-04T05:06:07+00:00,"+time.Now().AddDate(-1, 0, 0).UTC().Format(time.RFC3339)+",us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n")...)
	}
	return out, err
}

func TestAccountRootKey(t *testing.T) {
	t.Parallel()
	w := newKeyWorld(t, "")
	real := w.b.IAM
	w.b.IAM = func(c broker.Creds) iamAPI { return rootReportIAM{real(c)} }
	l, err := w.b.Open(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	list, err := l.Account(t.Context(), 90, 90)
	if err != nil {
		t.Fatal(err)
	}
	var root []AccessKey
	for _, k := range list.Keys {
		if k.Root {
			root = append(root, k)
		}
	}
	if len(root) != 1 || root[0].User != RootUser || root[0].Status != StatusActive || root[0].LastService != "s3" ||
		!slices.Equal(root[0].Flags, []string{FlagRoot, FlagOverMaxAge, FlagUnused}) {
		t.Fatalf("root keys %+v", root)
	}
}
