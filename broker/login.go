package broker

// The AWS console sign-in URL, through the federation endpoint
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html):
//
//  1. GET <federation>?Action=getSigninToken[&SessionDuration=S]&Session={"sessionId","sessionKey","sessionToken"}
//     answers {"SigninToken": "..."};
//  2. <federation>?Action=login&Destination=<console URL>&SigninToken=... signs the browser in.
//
// The endpoint accepts only temporary credentials that carry a session
// token and were made by AssumeRole or GetFederationToken, so a role
// profile's session is used as it is, and an IAM user's gets a federation
// token, which STS mints only when signed by the long-term key.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/broker-dev/broker/vault"
)

// Console session limits.
const (
	// SessionDuration of getSigninToken, for role credentials only.
	minConsoleSession = 15 * time.Minute
	maxConsoleSession = 12 * time.Hour
	// DurationSeconds of GetFederationToken.
	minFederationToken = 15 * time.Minute
	maxFederationToken = 36 * time.Hour
	// SigninTokenLifetime is how long a sign-in URL works once made.
	SigninTokenLifetime = 15 * time.Minute
	// federationTimeout bounds one call to the federation endpoint.
	federationTimeout = 15 * time.Second
	// defaultConsolePath is where the browser lands without --path.
	defaultConsolePath = "console/home"
)

// allowAllPolicy is GetFederationToken's session policy. Without one the
// federated user may do nothing; with it the session may do what the IAM
// user may do (a session policy only narrows the user's own policies).
const allowAllPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// Partition is an AWS partition's sign-in and console hosts.
type Partition struct {
	ID          string // aws, aws-cn, aws-us-gov
	SigninHost  string
	ConsoleHost string
}

// PartitionOf returns the partition a region belongs to.
func PartitionOf(region string) Partition {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return Partition{ID: "aws-cn", SigninHost: "signin.amazonaws.cn", ConsoleHost: "console.amazonaws.cn"}
	case strings.HasPrefix(region, "us-gov-"):
		return Partition{ID: "aws-us-gov", SigninHost: "signin.amazonaws-us-gov.com", ConsoleHost: "console.amazonaws-us-gov.com"}
	}
	return Partition{ID: "aws", SigninHost: "signin.aws.amazon.com", ConsoleHost: "console.aws.amazon.com"}
}

// FederationURL is the partition's federation endpoint.
func (p Partition) FederationURL() string {
	return "https://" + p.SigninHost + "/federation"
}

// LoginOptions say where the console opens and which endpoint signs in.
type LoginOptions struct {
	Path          string       // console path, e.g. "s3/home"; "console/home" when empty
	FederationURL string       // overrides the partition's endpoint (BROKER_FEDERATION_URL)
	HTTPClient    *http.Client // nil: a client with a timeout that follows no redirects
}

// Login is a console sign-in URL. It holds a sign-in token: whoever has
// the URL within SigninTokenLifetime gets the console session.
type Login struct {
	URL       string
	Duration  time.Duration // the console session asked for
	Federated bool          // an IAM user's federation token, not a role session
}

// Login returns a console sign-in URL for the profile's credentials: a role
// profile's session as it is, with the role's duration as the console
// session's; an IAM user's through GetFederationToken, signed by the
// long-term key after the MFA session gate, for the profile's duration.
func (b *Broker) Login(ctx context.Context, name string, opts LoginOptions) (Login, error) {
	p, err := b.Plan(name)
	if err != nil {
		return Login{}, err
	}
	region := p.Region
	if region == "" {
		region = "us-east-1"
	}
	part := PartitionOf(region)
	destination, err := ConsoleURL(part, region, opts.Path)
	if err != nil {
		return Login{}, err
	}
	endpoint := opts.FederationURL
	if endpoint == "" {
		endpoint = part.FederationURL()
	}
	if err := checkFederationURL(endpoint); err != nil {
		return Login{}, err
	}

	var creds Creds
	var d time.Duration
	federated := len(p.Roles) == 0
	if federated {
		d = clamp(b.userConsoleDuration(name), minFederationToken, maxFederationToken)
		if creds, err = b.federationToken(ctx, p, region, d); err != nil {
			return Login{}, err
		}
	} else {
		c, err := b.Credentials(ctx, name)
		if err != nil {
			return Login{}, err
		}
		creds = Creds{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		d = clamp(p.Roles[len(p.Roles)-1].Duration, minConsoleSession, maxConsoleSession)
	}

	// SessionDuration is refused for a federation token: its session lasts
	// as long as the token, set on GetFederationToken.
	var sessionDuration time.Duration
	if !federated {
		sessionDuration = d
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout: federationTimeout,
			// A redirect would carry the session credentials elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	b.debugf("getSigninToken at %s for profile %q (session %s)", endpoint, name, d)
	token, err := signinToken(ctx, client, endpoint, creds, sessionDuration)
	if err != nil {
		return Login{}, err
	}
	u, err := LoginURL(endpoint, destination, token)
	if err != nil {
		return Login{}, err
	}
	return Login{URL: u, Duration: d, Federated: federated}, nil
}

// userConsoleDuration is an IAM user profile's console session: its
// duration_seconds, else DefaultRoleDuration.
func (b *Broker) userConsoleDuration(name string) time.Duration {
	if prof, err := b.Config.Profile(name); err == nil && prof.RoleDuration > 0 {
		return prof.RoleDuration
	}
	return DefaultRoleDuration
}

// federationToken mints a federation token for an IAM user profile. STS
// takes GetFederationToken only signed by the long-term key, and it has no
// MFA parameter: the MFA session (one code, or none when cached) is asked
// for first as broker's gate, but AWS does not mark the console session as
// MFA-authenticated.
func (b *Broker) federationToken(ctx context.Context, p Plan, region string, d time.Duration) (Creds, error) {
	var key vault.Key
	var err error
	if p.NoMFA && p.MFASerial == "" {
		key, err = b.Vault.Key(p.Root)
		if errors.Is(err, vault.ErrNotFound) {
			return Creds{}, &NoKeyError{Profile: p.Root}
		}
		if err != nil {
			return Creds{}, err // vault says whose key
		}
	} else if _, key, _, err = b.MFASession(ctx, p.Profile); err != nil {
		return Creds{}, err
	}
	b.debugf("GetFederationToken for profile %q with key %s for %s", p.Profile, MaskKeyID(key.AccessKeyID), d)
	keyCreds := Creds{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	out, err := b.sts(keyCreds, p).GetFederationToken(ctx, &sts.GetFederationTokenInput{
		Name:            aws.String(FederatedName(p.Profile)),
		Policy:          aws.String(allowAllPolicy),
		DurationSeconds: seconds(d),
	})
	if err != nil {
		return Creds{}, fmt.Errorf("getting a federation token: %w", classify(err, "sts", p.Root, key.AccessKeyID))
	}
	s, err := fromSTS(out.Credentials)
	if err != nil {
		return Creds{}, fmt.Errorf("getting a federation token: %w", err)
	}
	if !s.Expiration.After(b.now()) {
		return Creds{}, fmt.Errorf("getting a federation token: STS returned one that has already expired (%s)", s.Expiration.Format(time.RFC3339))
	}
	return Creds{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}, nil
}

// FederatedName is GetFederationToken's Name for a profile: "broker-" and
// the profile, in the characters STS allows ([\w+=,.@-]), at most 32.
func FederatedName(profile string) string {
	var sb strings.Builder
	sb.WriteString("broker-")
	for _, r := range profile {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)) {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
		if sb.Len() >= 32 {
			break
		}
	}
	return sb.String()
}

// ConsoleURL is the sign-in destination: https://<console host>/<path>
// with the region. path may carry a query of its own; a full URL is refused.
func ConsoleURL(p Partition, region, path string) (string, error) {
	path = strings.TrimLeft(path, "/")
	if path == "" {
		path = defaultConsolePath
	}
	u, err := url.Parse("https://" + p.ConsoleHost + "/" + path)
	if err != nil || u.Host != p.ConsoleHost || u.User != nil || strings.Contains(path, "://") {
		return "", fmt.Errorf("console path %q: want a path on %s such as \"s3/home\"", path, p.ConsoleHost)
	}
	q := u.Query()
	if q.Get("region") == "" && region != "" {
		q.Set("region", region)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// LoginURL is the URL that signs the browser in and sends it to destination.
func LoginURL(endpoint, destination, token string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("federation endpoint %q: %w", endpoint, err)
	}
	// Issuer is left out: it only names the page AWS links to when the
	// console session ends.
	u.RawQuery = url.Values{
		"Action":      {"login"},
		"Destination": {destination},
		"SigninToken": {token},
	}.Encode()
	return u.String(), nil
}

// checkFederationURL refuses an endpoint that would send credentials in
// the clear: https, or http to a loopback address (a test's fake).
func checkFederationURL(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("federation endpoint %q is not a URL", endpoint)
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("federation endpoint %q: want https (or http on a loopback address)", endpoint)
}

// FederationError is an answer from the federation endpoint that is not a
// sign-in token.
type FederationError struct {
	Endpoint string
	Status   int
}

func (e *FederationError) Error() string {
	return fmt.Sprintf("the federation endpoint %s answered %d %s, not a sign-in token", e.Endpoint, e.Status, http.StatusText(e.Status))
}

// signinToken exchanges credentials for a sign-in token. The credentials
// travel in the request's query, so no error or log line carries the URL.
func signinToken(ctx context.Context, client *http.Client, endpoint string, c Creds, sessionDuration time.Duration) (string, error) {
	session, err := json.Marshal(struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}{c.AccessKeyID, c.SecretAccessKey, c.SessionToken})
	if err != nil {
		return "", err
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
	if sessionDuration > 0 {
		q.Set("SessionDuration", strconv.Itoa(int(sessionDuration/time.Second)))
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("federation endpoint %q: %w", endpoint, err)
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, federationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", errors.New("building the getSigninToken request failed")
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL, credentials included: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", &UnreachableError{Service: "federation", Endpoint: endpoint, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &FederationError{Endpoint: endpoint, Status: resp.StatusCode}
	}
	var out struct{ SigninToken string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.SigninToken == "" {
		return "", errors.New("the federation endpoint answered without a sign-in token")
	}
	return out.SigninToken, nil
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}
