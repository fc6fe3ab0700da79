//go:build linux

package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// accountJSON is `broker keys --all --json` as the issue fixes it.
type accountJSON struct {
	Account string `json:"account"`
	Keys    []struct {
		User        string     `json:"user"`
		ID          string     `json:"access_key_id"`
		Status      string     `json:"status"`
		Created     time.Time  `json:"created"`
		AgeDays     *int       `json:"age_days"`
		LastUsed    *time.Time `json:"last_used"`
		LastService *string    `json:"last_used_service"`
		LastRegion  *string    `json:"last_used_region"`
		Description *string    `json:"description"`
		Flags       []string   `json:"flags"`
	} `json:"keys"`
}

// signIAM makes one IAM call signed with a key, as another program would.
func signIAM(t *testing.T, w *world, id, secret string) {
	t.Helper()
	c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.aws.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
		})})
	if _, err := c.ListUsers(t.Context(), &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
}

// keys --all exits 0 when nothing is flagged, 1 when something is, 2 on
// error, with a summary line; --json has the fields.
func TestKeysAllExitStatus(t *testing.T) {
	w, u := setupDev(t)
	out, errOut, code := w.broker("keys", "--all", "dev")
	if code != 0 || !strings.Contains(out, u.keyID) || !strings.Contains(errOut, "1 access keys of 1 IAM users") ||
		!strings.Contains(errOut, "0 root-key, 0 over-max-age, 0 unused, 0 two-active") {
		t.Fatalf("keys --all with nothing flagged: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	bob := w.newUser("bob")
	signIAM(t, w, bob.keyID, bob.secret)
	never, _ := w.aws.NewUserKey(t, "bob")
	w.mustBroker("keys", "describe", "dev", never, "spare for CI")

	out, errOut, code = w.broker("keys", "--all", "--json", "dev")
	if code != 1 || !strings.Contains(errOut, "3 access keys of 2 IAM users") || !strings.Contains(errOut, "1 unused, 2 two-active") {
		t.Fatalf("keys --all with flags: exit %d, stderr %s", code, errOut)
	}
	var list accountJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if list.Account == "" || len(list.Keys) != 3 {
		t.Fatalf("keys --all --json: %s", out)
	}
	for _, k := range list.Keys {
		if k.User == "" || k.Status != "Active" || k.Created.IsZero() || k.AgeDays == nil || k.LastService == nil ||
			k.LastRegion == nil || k.Description == nil || k.Flags == nil {
			t.Errorf("key %+v lacks a field", k)
		}
		switch k.ID {
		case u.keyID:
			if len(k.Flags) != 0 || *k.LastService != "sts" {
				t.Errorf("alice's key: %+v", k)
			}
		case bob.keyID:
			if !slices.Equal(k.Flags, []string{"two-active"}) || *k.LastService != "iam" || k.LastUsed == nil {
				t.Errorf("bob's used key: %+v", k)
			}
		case never:
			if !slices.Equal(k.Flags, []string{"unused", "two-active"}) || *k.Description != "spare for CI" || k.LastUsed != nil {
				t.Errorf("bob's unused key: %+v", k)
			}
		default:
			t.Errorf("unknown key %s", k.ID)
		}
	}
	// --user lists bob's keys as the own listing does, with the description.
	if out := w.mustBroker("keys", "--user", "bob", "dev"); !strings.Contains(out, never) || !strings.Contains(out, "spare for CI") {
		t.Errorf("keys --user bob: %s", out)
	}
	// Errors: exit 2, one broker: line, nothing on stdout.
	for _, args := range [][]string{{"keys", "--all", "--max-age", "0", "dev"}, {"keys", "--all", "nokey"}, {"keys", "--all", "--user", "bob", "dev"}} {
		out, errOut, code := w.broker(args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "broker: ") {
			t.Errorf("broker %v: exit %d, stdout %q, stderr %q; want exit 2", args, code, out, errOut)
		}
	}
	// Another user's key, owner found in the account.
	w.mustFail("only an inactive key can be deleted", "keys", "delete", "--yes", "dev", never)
	w.mustBroker("keys", "deactivate", "--yes", "dev", never)
	w.mustBroker("keys", "delete", "--yes", "dev", never)
	if keys := w.aws.AccessKeys(t, "bob"); len(keys) != 1 || keys[bob.keyID] != "Active" {
		t.Errorf("bob's keys: %v", keys)
	}
	if tags := w.aws.UserTags(t, "bob"); len(tags) != 0 {
		t.Errorf("the deleted key's description is left: %v", tags)
	}
	// find names the owner.
	if out := w.mustBroker("keys", "find", "dev", bob.keyID); !strings.Contains(out, "IAM user bob owns it") {
		t.Errorf("keys find: %s", out)
	}
	if out := w.mustBroker("keys", "find", "dev", "ASIA0TEMPSESSI0N0000"); !strings.Contains(out, "temporary credential") || !strings.Contains(out, "cloudtrail lookup-events") {
		t.Errorf("keys find ASIA…: %s", out)
	}
}

// rotate stops before any change when another program used the key last;
// revoke --key --sessions deactivates another user's key and puts the policy.
func TestRotateUseCheckAndRevokeSessions(t *testing.T) {
	w, u := setupDev(t)
	w.mustBroker("export", "dev") // broker's MFA session, cached
	signIAM(t, w, u.keyID, u.secret)
	errOut := w.mustFail("which is not broker's doing", "rotate", "--yes", "dev")
	if !strings.Contains(errOut, "hint: ") || !strings.Contains(errOut, "iam") {
		t.Errorf("use check refusal: %s", errOut)
	}
	w.sameKeys("after a refused rotate", map[string]string{u.keyID: "Active"})
	if _, errOut, code := w.broker("rotate", "--yes", "--force", "dev"); code != 0 || !strings.Contains(errOut, "inactive, not deleted") {
		t.Fatalf("rotate --force: exit %d: %s", code, errOut)
	}

	bob := w.newUser("bob")
	out, errOut, code := w.broker("revoke", "--yes", "--sessions", "--key", bob.keyID, "dev")
	if code != 0 || out != "" {
		t.Fatalf("revoke --key: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	for _, want := range []string{"BrokerRevokeOlderSessions", "aws iam delete-user-policy --user-name bob --policy-name BrokerRevokeOlderSessions",
		"AttributeValue=" + bob.keyID} {
		if !strings.Contains(errOut, want) {
			t.Errorf("revoke --key output lacks %q:\n%s", want, errOut)
		}
	}
	if keys := w.aws.AccessKeys(t, "bob"); keys[bob.keyID] != "Inactive" {
		t.Errorf("bob's key is %q", keys[bob.keyID])
	}
	if doc := w.aws.UserPolicy(t, "bob", "BrokerRevokeOlderSessions"); !strings.Contains(doc, `"aws:TokenIssueTime"`) || !strings.Contains(doc, "DateLessThan") {
		t.Errorf("bob's policy: %q", doc)
	}
	w.mustFail("no IAM user of this account has", "revoke", "--yes", "--key", "AKIA0000000000000000", "dev")
}

func TestPolicyCommand(t *testing.T) {
	w := newWorld(t)
	var p struct {
		Permissions struct{ Statement []struct{ Action []string } } `json:"permissions"`
		RequireMFA  struct {
			Statement []struct {
				Effect      string
				Action      []string
				NotAction   []string
				NotResource string
				Condition   map[string]map[string]string
			}
		} `json:"require_mfa"`
	}
	if err := json.Unmarshal([]byte(w.mustBroker("policy", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, s := range p.Permissions.Statement {
		actions = append(actions, s.Action...)
	}
	for _, want := range []string{"iam:CreateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListMFADevices", "iam:TagUser",
		"iam:GenerateCredentialReport", "iam:PutUserPolicy", "sts:GetAccessKeyInfo"} {
		if !slices.Contains(actions, want) {
			t.Errorf("the policy lacks %s", want)
		}
	}
	mfa := p.RequireMFA.Statement
	if len(mfa) != 2 || mfa[0].Effect != "Deny" || !slices.Contains(mfa[0].NotAction, "sts:GetSessionToken") ||
		mfa[0].Condition["BoolIfExists"]["aws:MultiFactorAuthPresent"] != "false" {
		t.Fatalf("the MFA statements: %+v", mfa)
	}
	// Without MFA, GetAccessKeyLastUsed (the use check's first call) on
	// one's own keys only.
	if !slices.Contains(mfa[0].NotAction, "iam:GetAccessKeyLastUsed") || mfa[1].Effect != "Deny" ||
		!slices.Equal(mfa[1].Action, []string{"iam:GetAccessKeyLastUsed"}) || mfa[1].NotResource != "arn:aws:iam::*:user/${aws:username}" ||
		mfa[1].Condition["BoolIfExists"]["aws:MultiFactorAuthPresent"] != "false" {
		t.Errorf("the MFA statements: %+v", mfa)
	}
}
