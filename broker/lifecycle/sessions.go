package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/broker-dev/broker/vault"
)

// Sessions minted from a key outlive its deactivation (up to 36 hours for
// GetSessionToken). AWS's documented remedy ("Revoking IAM role temporary
// security credentials", and for users "Disabling permissions for temporary
// security credentials") is an inline policy denying everything to tokens
// issued before a point in time: aws:TokenIssueTime exists only in requests
// signed with temporary credentials, so the user's long-term keys and the
// sessions minted afterwards are unaffected.

// RevokePolicyName names the inline user policy DenyOlderSessions puts.
const RevokePolicyName = "BrokerRevokeOlderSessions"

// Denial is the policy DenyOlderSessions put.
type Denial struct {
	User     string    `json:"user"`
	Policy   string    `json:"policy_name"`
	Before   time.Time `json:"before"` // sessions issued before this are denied
	Document string    `json:"document"`
	Sessions int       `json:"sessions"` // cached sessions of the user's keys dropped
}

// RevokeSessionsDocument is the policy denying every action to tokens
// issued before before.
func RevokeSessionsDocument(before time.Time) string {
	doc := PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
		Sid: RevokePolicyName, Effect: "Deny", Action: "*", Resource: "*",
		Condition: map[string]map[string]any{"DateLessThan": {"aws:TokenIssueTime": before.UTC().Format(time.RFC3339)}},
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // a fixed shape of strings always marshals
	}
	return string(b)
}

// DenyOlderSessions puts RevokePolicyName on IAM user user, denying every
// session issued before now, and drops the sessions broker cached from the
// user's keys, so that its next command mints new ones. It must be the
// command's last IAM call: the MFA session signing it is older too.
func (l *Session) DenyOlderSessions(ctx context.Context, user string) (*Denial, error) {
	keys, err := l.listKeys(ctx, user)
	if err != nil {
		return nil, err
	}
	// Whole seconds, rounded up: a session issued in this second is denied too.
	before := l.m.now().UTC().Truncate(time.Second).Add(time.Second)
	d := &Denial{User: user, Policy: RevokePolicyName, Before: before, Document: RevokeSessionsDocument(before)}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err = l.iam.PutUserPolicy(cctx, &iam.PutUserPolicyInput{
		UserName: aws.String(user), PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(d.Document),
	})
	if err != nil {
		return nil, fmt.Errorf("putting the policy %s on IAM user %q: %w", RevokePolicyName, user, l.classify(err))
	}
	ids := map[string]bool{}
	for _, k := range keys {
		ids[k.ID] = true
	}
	d.Sessions, err = l.m.DropSessions(func(s vault.Session) bool { return ids[s.SourceKeyID] })
	return d, err
}

// revokeOther deactivates key id of another IAM user of the account at
// once: the exposure response for a key found elsewhere (by `audit`, say).
func (l *Session) revokeOther(ctx context.Context, id string) (RevokeResult, error) {
	res := RevokeResult{Profile: l.Profile, KeyID: id, Other: true}
	owner, keys, err := l.Owner(ctx, id, "")
	if err != nil {
		return res, err
	}
	res.User = owner
	k, ok := findKey(keys, id)
	if !ok {
		return res, &KeyChangeError{Profile: l.Profile, User: owner, KeyID: id, Action: "revoke", Err: ErrKeyNotUsers}
	}
	res.KeyCreated = k.Created
	if err := l.lastUsed(ctx, &k); err != nil {
		return res, err
	}
	res.LastUsed, res.LastRegion = k.LastUsed, k.LastRegion
	if err := l.setStatus(ctx, owner, id, StatusInactive); err != nil {
		return res, err
	}
	res.Sessions, res.LatestExpiry, err = l.dropSessions(id)
	return res, err
}

// PolicyDocument is an IAM policy, for encoding.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid         string                    `json:"Sid,omitempty"`
	Effect      string                    `json:"Effect"`
	Action      any                       `json:"Action,omitempty"`
	NotAction   []string                  `json:"NotAction,omitempty"`
	Resource    any                       `json:"Resource,omitempty"`
	NotResource any                       `json:"NotResource,omitempty"`
	Condition   map[string]map[string]any `json:"Condition,omitempty"`
}
