package broker

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/broker-dev/broker/broker/awsconfig"
)

// Plan is how a profile's credentials are made.
type Plan struct {
	Profile   string
	Root      string // the profile whose long-term key signs the first call
	Region    string // "" when neither the environment nor the config names one
	MFASerial string
	// MFAFrom is where MFASerial comes from: a profile of the chain (the
	// profile itself or a source), "default", or "AWS_MFA_SERIAL".
	MFAFrom         string
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

// ParentProfileError means a profile of the chain sets parent_profile,
// aws-vault 5's name for include_profile: taking the profile without what it
// names would make other credentials than meant.
type ParentProfileError struct{ Profile string }

func (e *ParentProfileError) Error() string {
	return fmt.Sprintf("profile %q sets parent_profile, aws-vault 5's name for include_profile, which broker does not read: rename it include_profile", e.Profile)
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
	for _, c := range chain {
		if _, ok := c.Values["parent_profile"]; ok {
			return Plan{}, &ParentProfileError{Profile: c.Name}
		}
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
			if plan.MFASerial != "" {
				plan.MFAFrom = cmp.Or(c.Name, "default")
			}
		} else if plan.MFAProcess == "" {
			plan.MFAProcess = c.MFAProcess
		}
		plan.YubiKeyOATH = firstSet(plan.YubiKeyOATH, c.Values["broker_yubikey_oath"])
		plan.MFAPrompt = firstSet(plan.MFAPrompt, c.Values["broker_mfa_prompt"])
	}

	if v := b.getenv("AWS_MFA_SERIAL"); v != "" {
		plan.MFASerial, plan.MFAFrom = v, "AWS_MFA_SERIAL"
	}
	roleTTL, err := b.envDuration("AWS_ASSUME_ROLE_TTL")
	if err != nil {
		return Plan{}, err
	}
	// Transitive tags an earlier role's session carries along the chain:
	// STS refuses a later AssumeRole that sets one of them again.
	inherited := map[string]string{} // lowercased key: the profile that made it transitive
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		if c.RoleARN == "" {
			continue
		}
		r := Role{
			Profile: c.Name, ARN: c.RoleARN,
			ExternalID:  firstSet(c.ExternalID, def.ExternalID),
			SessionName: firstSet(c.RoleSessionName, def.RoleSessionName),
			Duration:    cmp.Or(roleTTL, c.RoleDuration),
		}
		r.SourceIdentity, r.SourceIdentityUser = sourceIdentity(c, def)
		for _, d := range []time.Duration{def.RoleDuration, DefaultRoleDuration} {
			if r.Duration == 0 {
				r.Duration = d
			}
		}
		tags := roleTags{tags: c.SessionTags, keys: c.TransitiveTagKeys}
		if i == 0 {
			if err := b.roleFromEnv(&r, &tags); err != nil {
				return Plan{}, err
			}
		}
		if err := tags.resolve(c.Name, def, inherited); err != nil {
			return Plan{}, err
		}
		r.Tags, r.TransitiveTagKeys = tags.tags, tags.keys
		for _, k := range r.TransitiveTagKeys {
			inherited[strings.ToLower(k)] = c.Name
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
func (b *Broker) roleFromEnv(r *Role, tags *roleTags) error {
	if v := b.getenv("AWS_SESSION_TAGS"); v != "" {
		t, err := awsconfig.ParseTags(v)
		if err != nil {
			return fmt.Errorf("AWS_SESSION_TAGS: %w", err)
		}
		tags.tags, tags.fromEnv = t, true
	}
	if v := b.getenv("AWS_TRANSITIVE_TAGS"); v != "" {
		tags.keys, tags.keysFromEnv = awsconfig.ParseTagKeys(v), true
	}
	if v := b.getenv("AWS_SOURCE_IDENTITY"); v != "" {
		if err := awsconfig.ValidateSourceIdentity(v); err != nil {
			return fmt.Errorf("AWS_SOURCE_IDENTITY: %w", err)
		}
		r.SourceIdentity, r.SourceIdentityUser = v, false
	}
	return nil
}

// sourceIdentity is what profile c's role sends as SourceIdentity: its own
// broker_source_identity (user or none), else its source_identity, else
// [default]'s the same way.
func sourceIdentity(c, def awsconfig.Profile) (name string, user bool) {
	for _, p := range []awsconfig.Profile{c, def} {
		switch {
		case p.SourceIdentityNone:
			return "", false
		case p.SourceIdentityUser:
			return "", true
		case p.SourceIdentity != "":
			return p.SourceIdentity, false
		}
	}
	return "", false
}

// roleTags are one role's session tags and transitive keys, and where they
// come from.
type roleTags struct {
	tags                 []awsconfig.Tag
	keys                 []string
	fromEnv, keysFromEnv bool
}

// resolve settles the tags of profile name's role, as aws-vault does where
// AWS accepts it: the profile's own session_tags and
// transitive_session_tags (or the variables), else [default]'s, on every
// role of the chain; but a tag that an earlier role of the chain made
// transitive is not sent again (STS carries it, and refuses it a second
// time: [default]'s is left out, the profile's own is an error), and
// TransitiveTagKeys names only tags this role sends (a key of the profile's
// own naming none is an error; one from [default], or of the profile's
// under AWS_SESSION_TAGS, is left out).
func (t *roleTags) resolve(name string, def awsconfig.Profile, inherited map[string]string) error {
	ownTags, ownKeys := t.tags != nil, t.keys != nil
	if !ownTags {
		t.tags = def.SessionTags
	}
	if !ownKeys {
		t.keys = def.TransitiveTagKeys
	}
	// The profile's transitive keys under AWS_SESSION_TAGS apply to the
	// tags the variable gives: those it leaves out are not a mistake.
	strictKeys := ownKeys && (t.keysFromEnv || !t.fromEnv)
	var tags []awsconfig.Tag
	for _, tag := range t.tags {
		from, ok := inherited[strings.ToLower(tag.Key)]
		switch {
		case !ok:
			tags = append(tags, tag)
		case ownTags:
			return &TagError{Profile: name, Key: tag.Key, Setting: t.tagSetting(), Inherited: from}
		}
	}
	var keys []string
	for _, k := range t.keys {
		sent := slices.ContainsFunc(tags, func(tag awsconfig.Tag) bool { return strings.EqualFold(tag.Key, k) })
		_, carried := inherited[strings.ToLower(k)]
		switch {
		case sent:
			keys = append(keys, k)
		case strictKeys && !carried:
			return &TagError{Profile: name, Key: k, Setting: t.keySetting(), Untagged: true}
		}
	}
	t.tags, t.keys = tags, keys
	return nil
}

func (t *roleTags) tagSetting() string {
	if t.fromEnv {
		return "AWS_SESSION_TAGS"
	}
	return "session_tags"
}

func (t *roleTags) keySetting() string {
	if t.keysFromEnv {
		return "AWS_TRANSITIVE_TAGS"
	}
	return "transitive_session_tags"
}

// TagError is a session tag STS would refuse for a profile's role: one an
// earlier role of the chain made transitive, or a transitive key that names
// no tag the role sends.
type TagError struct {
	Profile   string
	Key       string
	Setting   string // session_tags, AWS_SESSION_TAGS, transitive_session_tags, AWS_TRANSITIVE_TAGS
	Inherited string // the profile whose role made Key transitive
	Untagged  bool
}

func (e *TagError) Error() string {
	if e.Untagged {
		return fmt.Sprintf("%s of profile %q names %s, which is not one of the session tags its role sends", e.Setting, e.Profile, e.Key)
	}
	return fmt.Sprintf("%s of profile %q sets %s, which profile %q's role already made transitive: STS refuses to set it again in the chain",
		e.Setting, e.Profile, e.Key, e.Inherited)
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
