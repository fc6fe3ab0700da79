package broker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/broker-dev/broker/broker/awsconfig"
	"github.com/broker-dev/broker/vault"
)

// loginSTS is a fake STS that records what it was asked and by which key.
type loginSTS struct {
	stsAPI
	signer Creds
	log    *stsLog
}

type stsLog struct {
	mu    sync.Mutex
	calls []stsCall
}

type stsCall struct {
	action string
	signer Creds
	in     any
}

func (s loginSTS) record(action string, in any) {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	s.log.calls = append(s.log.calls, stsCall{action, s.signer, in})
}

func (l *stsLog) of(action string) []stsCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []stsCall
	for _, c := range l.calls {
		if c.action == action {
			out = append(out, c)
		}
	}
	return out
}

func fakeCreds(id string) *types.Credentials {
	return &types.Credentials{
		AccessKeyId: aws.String(id), SecretAccessKey: aws.String("secret-of-" + id),
		SessionToken: aws.String("token-of-" + id), Expiration: aws.Time(time.Now().Add(time.Hour)),
	}
}

func (s loginSTS) GetSessionToken(_ context.Context, in *sts.GetSessionTokenInput, _ ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	s.record("GetSessionToken", in)
	return &sts.GetSessionTokenOutput{Credentials: fakeCreds("ASIAMFASESSION")}, nil
}

func (s loginSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	s.record("AssumeRole", in)
	return &sts.AssumeRoleOutput{Credentials: fakeCreds("ASIAROLESESSION")}, nil
}

func (s loginSTS) GetFederationToken(_ context.Context, in *sts.GetFederationTokenInput, _ ...func(*sts.Options)) (*sts.GetFederationTokenOutput, error) {
	s.record("GetFederationToken", in)
	return &sts.GetFederationTokenOutput{Credentials: fakeCreds("ASIAFEDERATED")}, nil
}

// federation is a fake federation endpoint on loopback.
type federation struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	seen   []url.Values
}

func newFederation(t *testing.T) *federation {
	f := &federation{status: http.StatusOK}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.seen = append(f.seen, r.URL.Query())
		if r.Method != http.MethodGet || r.URL.Path != "/federation" || r.URL.Query().Get("Action") != "getSigninToken" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		if f.status != http.StatusOK {
			http.Error(w, "no", f.status)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": "fake-signin-token"})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *federation) endpoint() string { return f.URL + "/federation" }

func (f *federation) last(t *testing.T) (url.Values, map[string]string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("the federation endpoint was not called")
	}
	q := f.seen[len(f.seen)-1]
	var session map[string]string
	if err := json.Unmarshal([]byte(q.Get("Session")), &session); err != nil {
		t.Fatalf("Session is not JSON: %v", err)
	}
	return q, session
}

const longTermID = "AKIAIOSFODNN7LOGINX1"

func loginBroker(t *testing.T, config string) (*Broker, *stsLog, *codes) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log, codes := &stsLog{}, &codes{}
	b := &Broker{Config: cfg, Vault: vault.New(keyring.NewArrayKeyring(nil), "test"), MFA: codes, LockDir: t.TempDir(),
		Clients: Clients{STS: func(c Creds, _ string) stsAPI { return loginSTS{signer: c, log: log} }}}
	if err := b.Vault.SetKey("dev", vault.Key{AccessKeyID: longTermID, SecretAccessKey: "long-term-secret", Added: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return b, log, codes
}

const loginConfig = `[profile dev]
region = eu-west-1
mfa_serial = arn:aws:iam::123456789012:mfa/alice
duration_seconds = 7200

[profile deploy]
source_profile = dev
role_arn = arn:aws:iam::123456789012:role/deployer
duration_seconds = 7200
region = cn-north-1

[profile short]
source_profile = dev
role_arn = arn:aws:iam::123456789012:role/reader

[profile open]
region = us-gov-west-1
broker_no_mfa = true
`

func TestLoginIAMUser(t *testing.T) {
	b, log, codes := loginBroker(t, loginConfig)
	fed := newFederation(t)
	got, err := b.Login(t.Context(), "dev", LoginOptions{FederationURL: fed.endpoint(), Path: "s3/home"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Federated || got.Duration != 2*time.Hour {
		t.Errorf("Login = %+v, want a federated 2h session", got)
	}
	ft := log.of("GetFederationToken")
	if len(ft) != 1 {
		t.Fatalf("%d GetFederationToken calls, want 1", len(ft))
	}
	in := ft[0].in.(*sts.GetFederationTokenInput)
	if ft[0].signer.AccessKeyID != longTermID || ft[0].signer.SessionToken != "" {
		t.Errorf("GetFederationToken signed by %s (token %v), want the long-term key", ft[0].signer.AccessKeyID, ft[0].signer.SessionToken != "")
	}
	if aws.ToInt32(in.DurationSeconds) != 7200 || aws.ToString(in.Name) != "broker-dev" || aws.ToString(in.Policy) != allowAllPolicy {
		t.Errorf("GetFederationToken(%d, %q, %q)", aws.ToInt32(in.DurationSeconds), aws.ToString(in.Name), aws.ToString(in.Policy))
	}
	// The MFA session is the gate: one code.
	if n := len(log.of("GetSessionToken")); n != 1 || codes.count() != 1 {
		t.Errorf("%d GetSessionToken calls and %d codes, want 1 and 1", n, codes.count())
	}
	q, session := fed.last(t)
	want := map[string]string{"sessionId": "ASIAFEDERATED", "sessionKey": "secret-of-ASIAFEDERATED", "sessionToken": "token-of-ASIAFEDERATED"}
	if len(session) != 3 || session["sessionId"] != want["sessionId"] || session["sessionKey"] != want["sessionKey"] || session["sessionToken"] != want["sessionToken"] {
		t.Errorf("Session = %v, want the federation token's credentials", session)
	}
	if q.Has("SessionDuration") {
		t.Errorf("SessionDuration=%s sent with a federation token", q.Get("SessionDuration"))
	}
	u, err := url.Parse(got.URL)
	if err != nil {
		t.Fatal(err)
	}
	lq := u.Query()
	if u.Host != strings.TrimPrefix(fed.URL, "http://") || u.Path != "/federation" || lq.Get("Action") != "login" || lq.Get("SigninToken") != "fake-signin-token" ||
		lq.Get("Destination") != "https://console.aws.amazon.com/s3/home?region=eu-west-1" {
		t.Errorf("login URL %s", got.URL)
	}

	// A second login: the MFA session is cached, no new code.
	if _, err := b.Login(t.Context(), "dev", LoginOptions{FederationURL: fed.endpoint()}); err != nil {
		t.Fatal(err)
	}
	if codes.count() != 1 || len(log.of("GetFederationToken")) != 2 {
		t.Errorf("second login: %d codes, %d GetFederationToken calls", codes.count(), len(log.of("GetFederationToken")))
	}
}

func TestLoginRole(t *testing.T) {
	b, log, _ := loginBroker(t, loginConfig)
	fed := newFederation(t)
	got, err := b.Login(t.Context(), "deploy", LoginOptions{FederationURL: fed.endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if got.Federated || got.Duration != 2*time.Hour {
		t.Errorf("Login = %+v", got)
	}
	if n := len(log.of("GetFederationToken")); n != 0 {
		t.Errorf("%d GetFederationToken calls for a role", n)
	}
	ar := log.of("AssumeRole")
	if len(ar) != 1 || aws.ToInt32(ar[0].in.(*sts.AssumeRoleInput).DurationSeconds) != 7200 {
		t.Fatalf("AssumeRole calls: %+v", ar)
	}
	q, session := fed.last(t)
	if session["sessionId"] != "ASIAROLESESSION" || session["sessionKey"] != "secret-of-ASIAROLESESSION" || session["sessionToken"] != "token-of-ASIAROLESESSION" {
		t.Errorf("Session = %v, want the role's credentials", session)
	}
	if q.Get("SessionDuration") != "7200" {
		t.Errorf("SessionDuration = %q, want 7200", q.Get("SessionDuration"))
	}
	u, _ := url.Parse(got.URL)
	if d := u.Query().Get("Destination"); d != "https://console.amazonaws.cn/console/home?region=cn-north-1" {
		t.Errorf("Destination = %s", d)
	}

	// A role without duration_seconds: the default hour.
	if _, err := b.Login(t.Context(), "short", LoginOptions{FederationURL: fed.endpoint()}); err != nil {
		t.Fatal(err)
	}
	if q, _ := fed.last(t); q.Get("SessionDuration") != "3600" {
		t.Errorf("SessionDuration = %q, want 3600", q.Get("SessionDuration"))
	}
}

func TestLoginNoMFAOptOut(t *testing.T) {
	b, log, codes := loginBroker(t, loginConfig)
	if err := b.Vault.SetKey("open", vault.Key{AccessKeyID: "AKIAIOSFODNN7OPENXX1", SecretAccessKey: "s", Added: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fed := newFederation(t)
	got, err := b.Login(t.Context(), "open", LoginOptions{FederationURL: fed.endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if codes.count() != 0 || len(log.of("GetSessionToken")) != 0 || got.Duration != time.Hour {
		t.Errorf("%d codes, %d GetSessionToken calls, %s", codes.count(), len(log.of("GetSessionToken")), got.Duration)
	}
	u, _ := url.Parse(got.URL)
	if d := u.Query().Get("Destination"); d != "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1" {
		t.Errorf("Destination = %s", d)
	}
}

func TestLoginWithoutMFARefused(t *testing.T) {
	b, log, _ := loginBroker(t, "[profile dev]\nregion = eu-west-1\n")
	fed := newFederation(t)
	_, err := b.Login(t.Context(), "dev", LoginOptions{FederationURL: fed.endpoint()})
	var noMFA *NoMFAError
	if !errors.As(err, &noMFA) {
		t.Fatalf("err = %v, want NoMFAError", err)
	}
	if len(log.calls) != 0 || len(fed.seen) != 0 {
		t.Errorf("calls made without MFA: %d STS, %d federation", len(log.calls), len(fed.seen))
	}
}

func TestLoginErrorsCarryNoSecret(t *testing.T) {
	b, _, _ := loginBroker(t, loginConfig)
	fed := newFederation(t)
	fed.status = http.StatusBadRequest
	_, err := b.Login(t.Context(), "dev", LoginOptions{FederationURL: fed.endpoint()})
	var fe *FederationError
	if !errors.As(err, &fe) || fe.Status != http.StatusBadRequest {
		t.Errorf("err = %v, want a FederationError 400", err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	_, err = b.Login(t.Context(), "dev", LoginOptions{FederationURL: dead.URL + "/federation"})
	var down *UnreachableError
	if !errors.As(err, &down) {
		t.Fatalf("err = %v, want an UnreachableError", err)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s := e.Error(); strings.Contains(s, "secret-of-") || strings.Contains(s, "token-of-") {
			t.Errorf("error carries a secret: %s", s)
		}
	}
	// Plain http off loopback is refused before any call.
	_, err = b.Login(t.Context(), "dev", LoginOptions{FederationURL: "http://signin.example.com/federation"})
	if err == nil || !strings.Contains(err.Error(), "want https") {
		t.Errorf("err = %v", err)
	}
}

func TestPartitionOf(t *testing.T) {
	for _, tt := range []struct{ region, id, signin, console string }{
		{"us-east-1", "aws", "signin.aws.amazon.com", "console.aws.amazon.com"},
		{"eu-west-1", "aws", "signin.aws.amazon.com", "console.aws.amazon.com"},
		{"", "aws", "signin.aws.amazon.com", "console.aws.amazon.com"},
		{"cn-north-1", "aws-cn", "signin.amazonaws.cn", "console.amazonaws.cn"},
		{"cn-northwest-1", "aws-cn", "signin.amazonaws.cn", "console.amazonaws.cn"},
		{"us-gov-west-1", "aws-us-gov", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"},
		{"us-gov-east-1", "aws-us-gov", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"},
	} {
		p := PartitionOf(tt.region)
		if p.ID != tt.id || p.SigninHost != tt.signin || p.ConsoleHost != tt.console {
			t.Errorf("PartitionOf(%q) = %+v", tt.region, p)
		}
		if p.FederationURL() != "https://"+tt.signin+"/federation" {
			t.Errorf("FederationURL = %s", p.FederationURL())
		}
	}
}

func TestConsoleURL(t *testing.T) {
	aws, cn := PartitionOf("us-east-1"), PartitionOf("cn-north-1")
	for _, tt := range []struct {
		p            Partition
		region, path string
		want         string
	}{
		{aws, "eu-west-1", "", "https://console.aws.amazon.com/console/home?region=eu-west-1"},
		{aws, "eu-west-1", "s3/home", "https://console.aws.amazon.com/s3/home?region=eu-west-1"},
		{aws, "eu-west-1", "/ec2/home", "https://console.aws.amazon.com/ec2/home?region=eu-west-1"},
		{aws, "eu-west-1", "ec2/home#Instances", "https://console.aws.amazon.com/ec2/home?region=eu-west-1#Instances"},
		{aws, "eu-west-1", "lambda/home?region=us-west-2", "https://console.aws.amazon.com/lambda/home?region=us-west-2"},
		{aws, "eu-west-1", "//evil.example.com/x", "https://console.aws.amazon.com/evil.example.com/x?region=eu-west-1"},
		{cn, "cn-north-1", "s3/home", "https://console.amazonaws.cn/s3/home?region=cn-north-1"},
		{aws, "eu-west-1", "https://evil.example.com/", ""},
		{aws, "eu-west-1", "x@evil.example.com/", "https://console.aws.amazon.com/x@evil.example.com/?region=eu-west-1"},
	} {
		got, err := ConsoleURL(tt.p, tt.region, tt.path)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ConsoleURL(%q) = %s, want an error", tt.path, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ConsoleURL(%q, %q) = %s, %v; want %s", tt.region, tt.path, got, err, tt.want)
		}
	}
}

func TestLoginURL(t *testing.T) {
	for _, tt := range []struct{ endpoint, dest, token, want string }{
		{"https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/console/home?region=eu-west-1", "T0k+n/=",
			"https://signin.aws.amazon.com/federation?Action=login&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2Fconsole%2Fhome%3Fregion%3Deu-west-1&SigninToken=T0k%2Bn%2F%3D"},
		{"http://127.0.0.1:8080/federation?ignored=1", "https://console.amazonaws.cn/s3/home?region=cn-north-1", "t",
			"http://127.0.0.1:8080/federation?Action=login&Destination=https%3A%2F%2Fconsole.amazonaws.cn%2Fs3%2Fhome%3Fregion%3Dcn-north-1&SigninToken=t"},
	} {
		got, err := LoginURL(tt.endpoint, tt.dest, tt.token)
		if err != nil || got != tt.want {
			t.Errorf("LoginURL(%s) = %s, %v\nwant %s", tt.endpoint, got, err, tt.want)
		}
	}
}

func TestFederatedName(t *testing.T) {
	for profile, want := range map[string]string{
		"dev":                               "broker-dev",
		"team/prod admin":                   "broker-team-prod-admin",
		"a.b@c,d=e+f_g-h":                   "broker-a.b@c,d=e+f_g-h",
		"ünïcode":                           "broker--n-code",
		"a-very-long-profile-name-indeed-x": "broker-a-very-long-profile-name-",
	} {
		if got := FederatedName(profile); got != want || len(got) > 32 {
			t.Errorf("FederatedName(%q) = %q, want %q", profile, got, want)
		}
	}
}

func TestCheckFederationURL(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"https://signin.aws.amazon.com/federation": true,
		"http://127.0.0.1:4000/federation":         true,
		"http://[::1]:4000/federation":             true,
		"http://localhost/federation":              true,
		"http://signin.aws.amazon.com/federation":  false,
		"ftp://127.0.0.1/federation":               false,
		"signin.aws.amazon.com/federation":         false,
		"":                                         false,
	} {
		if err := checkFederationURL(endpoint); (err == nil) != ok {
			t.Errorf("checkFederationURL(%q) = %v", endpoint, err)
		}
	}
}
