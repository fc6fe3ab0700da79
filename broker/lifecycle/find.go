package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/vault"
)

// `broker keys find` answers the console's "which IAM user owns this
// access key": STS GetAccessKeyInfo (signed with the profile's long-term
// key: no MFA, and it needs no permission on the key asked about) says
// which account; for this account's long-term keys IAM then says which
// user, through the MFA session.

// KeyInfo is what broker found out about an access key ID.
type KeyInfo struct {
	KeyID       string     `json:"access_key_id"`
	Account     string     `json:"account"`
	ThisAccount bool       `json:"this_account"`        // the profile's own account
	Temporary   bool       `json:"temporary"`           // ASIA…: STS session credentials, no IAM user's key
	Key         *AccessKey `json:"key,omitempty"`       // the owner, status, created and last use
	NoOwner     bool       `json:"no_owner,omitempty"`  // this account's, but no IAM user has it (deleted, or the root user's)
	Profile     string     `json:"profile"`             // the profile asked with
	ProfileUser string     `json:"profile_user"`        // the IAM user of the profile asked with
	Stored      string     `json:"stored_in,omitempty"` // the profile whose keychain item holds this key
}

// ValidateAnyKeyID checks the shape of an access key ID, long-term (AKIA)
// or temporary (ASIA).
func ValidateAnyKeyID(id string) error {
	if strings.HasPrefix(id, "ASIA") {
		id = "AKIA" + id[4:]
	}
	if err := ValidateKeyID(id); err != nil {
		return errors.New("malformed access key ID: expected AKIA or ASIA followed by 16 letters or digits")
	}
	return nil
}

// Find says whose access key id is, asking for an MFA code only when it is
// a long-term key of the profile's own account.
func (m *Manager) Find(ctx context.Context, name, id string) (KeyInfo, error) {
	info := KeyInfo{KeyID: id, Temporary: strings.HasPrefix(id, "ASIA")}
	p, err := m.Plan(name)
	if err != nil {
		return info, err
	}
	info.Profile = p.Root
	key, err := m.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return info, &broker.NoKeyError{Profile: p.Root}
	}
	if err != nil {
		return info, err // vault says whose key
	}
	who, err := m.Identity(ctx, p.Root, key)
	if err != nil {
		return info, err
	}
	info.ProfileUser = who.UserName
	if key.AccessKeyID == id {
		info.Stored = p.Root
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	out, err := m.Clients.STS(broker.Creds{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, "us-east-1").
		GetAccessKeyInfo(cctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(id)})
	cancel()
	if err != nil {
		return info, fmt.Errorf("asking STS which account key %s belongs to: %w", broker.MaskKeyID(id), broker.Classify(err, "sts", p.Root, key.AccessKeyID))
	}
	info.Account = aws.ToString(out.Account)
	info.ThisAccount = info.Account == who.Account
	if !info.ThisAccount || info.Temporary {
		return info, nil
	}
	l, err := m.Open(ctx, name)
	if err != nil {
		return info, err
	}
	owner, keys, err := l.Owner(ctx, id, "")
	if errors.Is(err, ErrNoOwner) {
		info.NoOwner = true
		return info, nil
	}
	if err != nil {
		return info, err
	}
	k, ok := findKey(keys, id)
	if !ok {
		info.NoOwner = true // deleted between the two calls
		return info, nil
	}
	k.User = owner
	if err := l.lastUsed(ctx, &k); err != nil {
		return info, err
	}
	tags, err := l.userTags(ctx, owner)
	if err != nil {
		return info, err
	}
	tags.describe(&k)
	info.Key = &k
	return info, nil
}
