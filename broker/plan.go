package broker

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/broker-dev/broker/broker/awsconfig"
)

// Plan is how a profile's credentials are made.
type Plan struct {
	Profile         string
	Root            string // the profile whose long-term key signs the first call
	Region          string // "" when neither the environment nor the config names one
	MFASerial       string
	MFAProcess      string
	YubiKeyOATH     string // broker_yubikey_oath: the OATH account ykman reads the code from
	MFAPrompt       string // broker_mfa_prompt: the source of codes by name (terminal, ykman, zenity, ...)
	NoMFA           bool
	SessionDuration time.Duration
	Roles           []Role // assumed in order, starting from the root's MFA session
	// STSEndpoint and IAMEndpoint are the endpoints the environment or the
	// profile configure ("": the SDK's own for the region).
	STSEndpoint string
	IAMEndpoint string
}

// Role is one AssumeRole step.
type Role struct {
	Profile     string
	ARN         string
	ExternalID  string
	SessionName string
	Duration    time.Duration
	// Capped is the duration_seconds asked for when it was more than STS
	// grants a chained role, so Duration is the 1 h limit instead.
	Capped time.Duration
	// SourceIdentity is sent as is; with SourceIdentityUser the IAM user's
	// name, found from the stored key, is sent instead.
	SourceIdentity     string
	SourceIdentityUser bool
	Tags               []awsconfig.Tag
	TransitiveTagKeys  []string
}

// UnsupportedError means the profile gets its credentials in a way broker
// does not implement (IAM Identity Center, web identity, ...).
type UnsupportedError struct {
	Profile string
	Keys    []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("profile %q gets its credentials through %s, which broker does not support: store a key for it with `broker add`, or use the AWS CLI for it",
		e.Profile, strings.Join(e.Keys, ", "))
}

func (b *Broker) getenv(name string) string {
	if b.Getenv != nil {
		return b.Getenv(name)
	}
	return os.Getenv(name)
}

// Plan reads the profile and its source_profile chain from the config.
//
// As aws-vault does, [default] fills in what a profile does not set: its
// region, MFA and role settings and broker's own keys, but never role_arn,
// source_profile, credential_process, broker_no_mfa or an endpoint, which
// would turn every profile into something else. MFA settings are taken from
// the nearest profile of the chain that sets them, then from [default];
// the region only from the environment, the profile itself, then [default],
// as aws-vault and the AWS CLI do.
//
// aws-vault's variables override the config as they do there:
// AWS_MFA_SERIAL, AWS_ASSUME_ROLE_TTL (every role of the chain),
// AWS_SESSION_TOKEN_TTL (a profile's own MFA session),
// AWS_CHAINED_SESSION_TOKEN_TTL (the MFA session roles are assumed from), and
// for the role of the profile asked for AWS_SESSION_TAGS,
// AWS_TRANSITIVE_TAGS and AWS_SOURCE_IDENTITY.
func (b *Broker) Plan(name string) (Plan, error) {
	p, err := b.Config.Profile(name)
	if errors.Is(err, awsconfig.ErrProfileNotFound) && b.hasKey(name) {
		// `broker add` works for a profile the config does not name yet.
		p, err = awsconfig.Profile{Name: name}, nil
	}
	if err != nil {
		return Plan{}, err
	}
	var def awsconfig.Profile
	if name != "default" {
		if def, err = b.Config.Profile("default"); errors.Is(err, awsconfig.ErrProfileNotFound) && !b.Config.Has("default") {
			def = awsconfig.Profile{}
		} else if err != nil {
			return Plan{}, err
		}
	}
	chain := []awsconfig.Profile{p}
	seen := map[string]bool{name: true}
	for cur := p; cur.SourceProfile != "" && cur.SourceProfile != cur.Name; {
		if seen[cur.SourceProfile] {
			names := []string{}
			for _, c := range chain {
				names = append(names, c.Name)
			}
			return Plan{}, &awsconfig.LoopError{Chain: append(names, cur.SourceProfile), Key: "source_profile"}
		}
		seen[cur.SourceProfile] = true
		next, err := b.Config.Profile(cur.SourceProfile)
		if err != nil {
			return Plan{}, fmt.Errorf("source_profile of %q: %w", cur.Name, err)
		}
		chain = append(chain, next)
		cur = next
	}
	root := chain[len(chain)-1]
	if unsupported := awsconfig.KeysOf(root.Values, awsconfig.KeyUnsupported); len(unsupported) > 0 && !b.hasKey(root.Name) {
		return Plan{}, &UnsupportedError{Profile: root.Name, Keys: unsupported}
	}

	plan := Plan{Profile: name, Root: root.Name}
	plan.Region = firstSet(b.Region, p.Region, def.Region)
	plan.SessionDuration = p.SessionDuration
	for _, d := range []time.Duration{root.SessionDuration, def.SessionDuration, DefaultSessionDuration} {
		if plan.SessionDuration == 0 {
			plan.SessionDuration = d
		}
	}
	// The nearest profile that says something about MFA decides.
	// [default] (last) never opts a profile out of MFA: that is said per
	// profile.
	for i, c := range append(chain, def) {
		if plan.MFASerial == "" && !plan.NoMFA {
			plan.MFASerial, plan.MFAProcess, plan.NoMFA = c.MFASerial, c.MFAProcess, c.NoMFA && i < len(chain)
		} else if plan.MFAProcess == "" {
			plan.MFAProcess = c.MFAProcess
		}
		plan.YubiKeyOATH = firstSet(plan.YubiKeyOATH, c.Values["broker_yubikey_oath"])
		plan.MFAPrompt = firstSet(plan.MFAPrompt, c.Values["broker_mfa_prompt"])
	}

	if v := b.getenv("AWS_MFA_SERIAL"); v != "" {
		plan.MFASerial = v
	}
	roleTTL, err := b.envDuration("AWS_ASSUME_ROLE_TTL")
	if err != nil {
		return Plan{}, err
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		if c.RoleARN == "" {
			continue
		}
		r := Role{
			Profile: c.Name, ARN: c.RoleARN,
			ExternalID:         firstSet(c.ExternalID, def.ExternalID),
			SessionName:        firstSet(c.RoleSessionName, def.RoleSessionName),
			Duration:           cmp.Or(roleTTL, c.RoleDuration),
			SourceIdentity:     firstSet(c.SourceIdentity, def.SourceIdentity),
			SourceIdentityUser: c.SourceIdentityUser || c.SourceIdentity == "" && def.SourceIdentityUser,
			Tags:               c.SessionTags,
			TransitiveTagKeys:  c.TransitiveTagKeys,
		}
		if r.Tags == nil {
			r.Tags = def.SessionTags
		}
		if r.TransitiveTagKeys == nil {
			r.TransitiveTagKeys = def.TransitiveTagKeys
		}
		for _, d := range []time.Duration{def.RoleDuration, DefaultRoleDuration} {
			if r.Duration == 0 {
				r.Duration = d
			}
		}
		if i == 0 {
			if err := b.roleFromEnv(&r); err != nil {
				return Plan{}, err
			}
		}
		// A role assumed from another role's session is chained: STS grants
		// it 1 h at most, and refuses to hear of more. The first role is
		// assumed from the key itself when it asks for more (see direct).
		if len(plan.Roles) > 0 && r.Duration > roleChainLimit {
			r.Capped, r.Duration = r.Duration, roleChainLimit
		}
		plan.Roles = append(plan.Roles, r)
	}
	// aws-vault's session lengths: one for a profile's own MFA session, one
	// for an MFA session that roles are assumed from.
	ttlVar := "AWS_SESSION_TOKEN_TTL"
	if len(plan.Roles) > 0 {
		ttlVar = "AWS_CHAINED_SESSION_TOKEN_TTL"
	}
	if ttl, err := b.envDuration(ttlVar); err != nil {
		return Plan{}, err
	} else if ttl != 0 {
		plan.SessionDuration = ttl
	}
	plan.STSEndpoint, err = b.endpoint(p, "STS")
	if err != nil {
		return Plan{}, err
	}
	plan.IAMEndpoint, err = b.endpoint(p, "IAM")
	if err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// roleFromEnv applies aws-vault's variables for the role of the profile
// asked for: AWS_SESSION_TAGS, AWS_TRANSITIVE_TAGS and AWS_SOURCE_IDENTITY
// override the profile's session_tags, transitive_session_tags and
// source_identity.
func (b *Broker) roleFromEnv(r *Role) error {
	if v := b.getenv("AWS_SESSION_TAGS"); v != "" {
		tags, err := awsconfig.ParseTags(v)
		if err != nil {
			return fmt.Errorf("AWS_SESSION_TAGS: %w", err)
		}
		r.Tags = tags
	}
	if v := b.getenv("AWS_TRANSITIVE_TAGS"); v != "" {
		r.TransitiveTagKeys = awsconfig.ParseTagKeys(v)
	}
	if v := b.getenv("AWS_SOURCE_IDENTITY"); v != "" {
		r.SourceIdentity, r.SourceIdentityUser = v, false
	}
	return nil
}

// envDuration reads one of aws-vault's duration variables ("12h", "3600s");
// 0 when unset.
func (b *Broker) envDuration(name string) (time.Duration, error) {
	v := b.getenv(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration such as 12h or 3600s", name, v)
	}
	if d < MinDuration {
		return 0, fmt.Errorf("%s: %s is shorter than the %s broker needs (see broker_session_duration)", name, d, MinDuration)
	}
	return d, nil
}

// endpoint is the service's endpoint for profile p, in the AWS SDKs'
// order: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the service's
// endpoint_url in the profile's services section, the profile's
// endpoint_url; none of them when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or
// the profile's ignore_configured_endpoint_urls is true.
func (b *Broker) endpoint(p awsconfig.Profile, service string) (string, error) {
	if strings.EqualFold(b.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") || p.IgnoreEndpointURLs {
		return "", nil
	}
	if v := firstSet(b.getenv("AWS_ENDPOINT_URL_"+service), b.getenv("AWS_ENDPOINT_URL")); v != "" {
		return v, nil
	}
	if p.Services != "" {
		v, err := b.Config.ServiceEndpoint(p.Services, strings.ToLower(service))
		if err != nil || v != "" {
			return v, err
		}
	}
	return p.EndpointURL, nil
}

// firstSet is the first value that is not "".
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (b *Broker) hasKey(name string) bool {
	_, err := b.Vault.Key(name)
	return err == nil
}
