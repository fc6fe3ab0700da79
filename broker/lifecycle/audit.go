package lifecycle

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
	"github.com/broker-dev/broker/broker/keyscan"
	"github.com/broker-dev/broker/vault"
)

// `broker audit` looks at the stored keys and at files that may hold keys.
// For the stored keys it asks STS who owns each (GetCallerIdentity, signed
// with the long-term key: no permission and no MFA needed) and, unless
// told not to, IAM for each key's status, creation date and last use,
// through the key lifecycle's MFA session (one code per profile, none
// while a session is cached). For key IDs found in files it asks STS
// GetAccessKeyInfo, signed with a stored long-term key: it needs no
// permission and says only which account a key ID belongs to.

// AuditOptions say which AWS calls the audit may make.
type AuditOptions struct {
	Offline bool // no AWS call at all
	NoIAM   bool // no IAM call, so no MFA code
}

// KeyAudit is one stored key as `broker audit` reports it; nothing secret.
type KeyAudit struct {
	Profile    string     `json:"profile"`
	KeyID      string     `json:"key_id"`          // masked
	Added      *time.Time `json:"added,omitempty"` // stored in the keychain
	AgeDays    *int       `json:"age_days,omitempty"`
	Account    string     `json:"account,omitempty"`
	ARN        string     `json:"arn,omitempty"`
	Root       bool       `json:"root"`          // the account's root user: full access, no IAM policy limits it
	IAM        *AccessKey `json:"iam,omitempty"` // status, created, last used
	MaxAgeDays int        `json:"max_age_days"`
	Problems   []string   `json:"problems,omitempty"`
	id         string
}

// OverMaxAge reports whether the key is older than the profile's limit.
func (k KeyAudit) OverMaxAge() bool { return k.AgeDays != nil && *k.AgeDays > k.MaxAgeDays }

// AuditKeys reports every stored key, in profile order. A failing AWS call
// becomes a problem of that key, not an error.
func (m *Manager) AuditKeys(ctx context.Context, opt AuditOptions) ([]KeyAudit, error) {
	names, err := m.Vault.KeyProfiles()
	if err != nil {
		return nil, err
	}
	out := make([]KeyAudit, 0, len(names))
	for _, name := range names {
		k, err := m.Vault.Key(name)
		if err != nil {
			out = append(out, KeyAudit{Profile: name, Problems: []string{err.Error()}})
			continue
		}
		a := KeyAudit{Profile: name, KeyID: keyscan.MaskID(k.AccessKeyID), id: k.AccessKeyID, MaxAgeDays: DefaultKeyMaxAge}
		if days, err := m.MaxKeyAge(name); err != nil {
			a.Problems = append(a.Problems, err.Error())
		} else {
			a.MaxAgeDays = days
		}
		if !k.Added.IsZero() {
			added := k.Added
			a.Added = &added
			a.AgeDays = ageDays(m.now(), added)
		}
		if !opt.Offline {
			m.auditAWS(ctx, &a, k, opt.NoIAM)
		}
		out = append(out, a)
	}
	return out, nil
}

func ageDays(now, t time.Time) *int {
	d := max(0, int(now.Sub(t)/(24*time.Hour)))
	return &d
}

// auditAWS fills in who owns the key and what IAM says about it.
func (m *Manager) auditAWS(ctx context.Context, a *KeyAudit, k vault.Key, noIAM bool) {
	who, err := m.Identity(ctx, a.Profile, k)
	if err != nil {
		a.Problems = append(a.Problems, err.Error())
		return
	}
	a.Account, a.ARN = who.Account, who.ARN
	a.Root = strings.HasSuffix(who.ARN, ":root")
	if noIAM || a.Root {
		return // IAM manages users' keys; a root key shows in the console only
	}
	l, err := m.Open(ctx, a.Profile)
	if err == nil {
		var list KeyList
		if list, err = l.Keys(ctx, a.MaxAgeDays); err == nil {
			if ak, ok := findKey(list.Keys, k.AccessKeyID); ok {
				ak.ID = keyscan.MaskID(ak.ID)
				a.IAM = &ak
				if !ak.Created.IsZero() {
					a.AgeDays = ageDays(m.now(), ak.Created) // IAM's date beats the keychain's
				}
				return
			}
			err = errors.New("IAM does not list this key for its user: it may have been deleted")
		}
	}
	var noMFA *broker.NoMFAError
	if errors.As(err, &noMFA) {
		err = errors.New("no status or last use: IAM needs an MFA session and the profile has no mfa_serial")
	}
	a.Problems = append(a.Problems, "IAM: "+err.Error())
}

// KeyOwner is what broker knows of whose a key ID found in a file is.
type KeyOwner struct {
	Account string `json:"account,omitempty"` // "" when unknown
	Profile string `json:"profile,omitempty"` // the profile storing this very key
	Yours   bool   `json:"yours"`             // a stored key, or a key of a stored key's account
	Problem string `json:"problem,omitempty"` // why the account is unknown
}

// KeyOwners says for each key ID whose it is: a stored key (by ID), and
// the account from STS GetAccessKeyInfo, signed with the first stored
// long-term key that STS accepts. keys is AuditKeys' answer.
func (m *Manager) KeyOwners(ctx context.Context, ids []string, keys []KeyAudit, opt AuditOptions) map[string]KeyOwner {
	out := map[string]KeyOwner{}
	accounts := map[string]bool{}
	for _, k := range keys {
		if k.Account != "" {
			accounts[k.Account] = true
		}
	}
	signers := keys
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		var o KeyOwner
		for _, k := range keys {
			if k.id == id {
				o.Profile, o.Account, o.Yours = k.Profile, k.Account, true
			}
		}
		switch {
		case o.Account != "":
		case opt.Offline:
			o.Problem = "--offline"
		case len(keys) == 0:
			o.Problem = "no stored key to ask STS with"
		default:
			o.Account, signers, o.Problem = m.accountOf(ctx, id, signers)
			o.Yours = o.Yours || accounts[o.Account]
		}
		out[id] = o
	}
	return out
}

// accountOf asks STS which account id belongs to, signing with the first
// of signers that works; it returns the signers still worth trying.
func (m *Manager) accountOf(ctx context.Context, id string, signers []KeyAudit) (string, []KeyAudit, string) {
	problem := "no stored key that STS accepts"
	for len(signers) > 0 {
		s := signers[0]
		k, err := m.Vault.Key(s.Profile)
		if err != nil {
			signers = signers[1:]
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		out, err := m.Clients.STS(broker.Creds{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, "us-east-1").
			GetAccessKeyInfo(cctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(id)})
		cancel()
		err = broker.Classify(err, "sts", s.Profile, k.AccessKeyID)
		var rejected *broker.RejectedKeyError
		var down *broker.UnreachableError
		switch {
		case err == nil:
			return aws.ToString(out.Account), signers, ""
		case errors.As(err, &rejected):
			signers = signers[1:] // this signer is dead: try the next
		case errors.As(err, &down):
			return "", nil, err.Error() // no point asking again
		default:
			// Only the code: a message may quote the key ID unmasked.
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) {
				return "", signers, "STS answered " + apiErr.ErrorCode()
			}
			return "", signers, "the STS call failed"
		}
	}
	return "", nil, problem
}

// SecretProfiles says which of secrets are a stored key's secret, by the
// profile storing it. The secrets are compared in memory only.
func (m *Manager) SecretProfiles(secrets []string, keys []KeyAudit) map[string]string {
	out := map[string]string{}
	if len(secrets) == 0 {
		return out
	}
	for _, a := range keys {
		k, err := m.Vault.Key(a.Profile)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if subtle.ConstantTimeCompare([]byte(s), []byte(k.SecretAccessKey)) == 1 {
				out[s] = a.Profile
			}
		}
	}
	return out
}
