package awsconfig

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Profile is one profile of the config file with include_profile applied.
type Profile struct {
	Name              string
	Region            string
	MFASerial         string
	MFAProcess        string
	SourceProfile     string
	RoleARN           string
	ExternalID        string
	RoleSessionName   string
	RoleDuration      time.Duration // duration_seconds: the role session, whole seconds
	SessionDuration   time.Duration // broker_session_duration: the MFA session; "8h" or whole seconds
	NoMFA             bool          // broker_no_mfa = true: the account cannot have MFA
	CredentialProcess string
	// SourceIdentity is source_identity; SourceIdentityUser is
	// broker_source_identity = user: send the IAM user's name instead;
	// SourceIdentityNone is broker_source_identity = none: send none, whatever
	// source_identity or [default] say.
	SourceIdentity     string
	SourceIdentityUser bool
	SourceIdentityNone bool
	SessionTags        []Tag             // session_tags
	TransitiveTagKeys  []string          // transitive_session_tags
	EndpointURL        string            // endpoint_url: every service's endpoint
	Services           string            // services: the [services NAME] section with per-service endpoints
	IgnoreEndpointURLs bool              // ignore_configured_endpoint_urls = true
	Values             map[string]string // every key of the merged profile, lowercased, with its value as written
}

// Profile returns the named profile with include_profile applied, as
// aws-vault does: the included profile's keys are defaults that the
// profile's own keys override, and included profiles may include others; a
// loop is a *LoopError. In filling the fields, broker_K beats K within a
// profile (Setup moves role keys there). A bad duration_seconds,
// broker_session_duration or broker_no_mfa is a *SyntaxError at its line.
func (f *File) Profile(name string) (Profile, error) {
	r, err := f.open()
	if err != nil {
		return Profile{}, err
	}
	defer r.Close()
	var layers []map[string]keyLine // the profile first, then what it includes
	var chain []string
	for n := name; ; {
		if slices.Contains(chain, n) {
			return Profile{}, &LoopError{Chain: append(chain, n), Key: "include_profile"}
		}
		chain = append(chain, n)
		l, err := r.layer(n)
		if err != nil {
			return Profile{}, err
		}
		if l == nil {
			if len(chain) == 1 {
				return Profile{}, fmt.Errorf("profile %q: %w", n, ErrProfileNotFound)
			}
			return Profile{}, fmt.Errorf("profile %q (include_profile of %q): %w", n, chain[len(chain)-2], ErrProfileNotFound)
		}
		layers = append(layers, l)
		n = l["include_profile"].value
		if n == "" {
			break
		}
	}

	p := Profile{Name: name, Values: make(map[string]string)}
	for _, l := range slices.Backward(layers) {
		for k, kl := range l {
			p.Values[k] = kl.value
		}
	}
	// lookup returns the first of keys found in the profile's own sections,
	// else in those it includes: own keys win, and the caller lists broker_K
	// before K so that within one profile broker_K wins.
	lookup := func(keys ...string) (keyLine, bool) {
		for _, l := range layers {
			for _, k := range keys {
				if kl, ok := l[k]; ok {
					return kl, true
				}
			}
		}
		return keyLine{}, false
	}
	get := func(k string) (keyLine, bool) { return lookup("broker_"+k, k) }
	str := func(k string) string {
		kl, _ := get(k)
		return kl.value
	}
	p.Region = str("region")
	p.MFASerial = str("mfa_serial")
	p.MFAProcess = str("mfa_process")
	p.SourceProfile = str("source_profile")
	p.RoleARN = str("role_arn")
	p.ExternalID = str("external_id")
	p.RoleSessionName = str("role_session_name")
	p.CredentialProcess = str("credential_process")

	if kl, ok := get("duration_seconds"); ok {
		if p.RoleDuration, err = parseSeconds(kl.value); err != nil {
			return Profile{}, r.keyError(kl, err)
		}
	}
	if kl, ok := lookup("broker_session_duration"); ok {
		if p.SessionDuration, err = parseDuration(kl.value); err != nil {
			return Profile{}, r.keyError(kl, err)
		}
	}
	if kl, ok := lookup("broker_no_mfa"); ok {
		if p.NoMFA, err = strconv.ParseBool(kl.value); err != nil {
			return Profile{}, r.keyError(kl, fmt.Errorf("%q is not true or false", kl.value))
		}
	}
	// source_identity has no broker_ form: broker_source_identity means
	// something else.
	if kl, ok := lookup("source_identity"); ok {
		if err := ValidateSourceIdentity(kl.value); err != nil {
			return Profile{}, r.keyError(kl, err)
		}
		p.SourceIdentity = kl.value
	}
	if kl, ok := lookup("broker_source_identity"); ok {
		switch kl.value {
		case "user":
			p.SourceIdentityUser = true
		case "none":
			p.SourceIdentityNone = true
		default:
			return Profile{}, r.keyError(kl, fmt.Errorf("%q is not user or none (for a fixed name, use source_identity)", kl.value))
		}
	}
	if kl, ok := get("session_tags"); ok && kl.value != "" {
		if p.SessionTags, err = ParseTags(kl.value); err != nil {
			return Profile{}, r.keyError(kl, err)
		}
	}
	p.TransitiveTagKeys = ParseTagKeys(str("transitive_session_tags"))
	p.EndpointURL = str("endpoint_url")
	p.Services = str("services")
	if kl, ok := get("ignore_configured_endpoint_urls"); ok {
		if p.IgnoreEndpointURLs, err = strconv.ParseBool(kl.value); err != nil {
			return Profile{}, r.keyError(kl, fmt.Errorf("%q is not true or false", kl.value))
		}
	}
	return p, nil
}

func (r reader) keyError(kl keyLine, err error) error {
	line, lerr := r.lineOf(kl.header)
	if lerr != nil {
		return lerr
	}
	return &SyntaxError{Path: r.f.path, Line: line + kl.line, Msg: kl.key + ": " + err.Error()}
}

const maxSeconds = math.MaxInt64 / int64(time.Second)

// parseSeconds parses a positive whole number of seconds.
func parseSeconds(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > maxSeconds {
		return 0, fmt.Errorf("%q is not a positive whole number of seconds", v)
	}
	return time.Duration(n) * time.Second, nil
}

// parseDuration parses a positive Go duration ("8h", "90m") or whole seconds.
func parseDuration(v string) (time.Duration, error) {
	if d, err := parseSeconds(v); err == nil {
		return d, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 8h or 3600", v)
	}
	return d, nil
}
