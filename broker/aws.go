package broker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// stsAPI is what broker needs from STS; *sts.Client satisfies it.
type stsAPI interface {
	GetSessionToken(context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error)
	AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	GetAccessKeyInfo(context.Context, *sts.GetAccessKeyInfoInput, ...func(*sts.Options)) (*sts.GetAccessKeyInfoOutput, error)
	GetFederationToken(context.Context, *sts.GetFederationTokenInput, ...func(*sts.Options)) (*sts.GetFederationTokenOutput, error)
}

// iamAPI is what broker needs from IAM; *iam.Client satisfies it.
type iamAPI interface {
	ListMFADevices(context.Context, *iam.ListMFADevicesInput, ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
}

// Creds are the AWS credentials a client is signed with.
type Creds struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Clients makes AWS clients signed with given credentials. The default
// follows the SDK's standard endpoint variables; tests may replace it.
type Clients struct {
	STS func(c Creds, region string) stsAPI
	IAM func(c Creds) iamAPI
	// STSAt and IAMAt make clients for an endpoint a profile configures
	// ("": the SDK's own); when nil, STS and IAM serve instead.
	STSAt func(c Creds, region, endpoint string) stsAPI
	IAMAt func(c Creds, endpoint string) iamAPI
}

// requestTimeout bounds one AWS call including its retries.
const requestTimeout = 30 * time.Second

// DefaultClients returns clients for the real (or AWS_ENDPOINT_URL-configured) endpoints.
func DefaultClients() Clients {
	httpClient := boundedClient{&http.Client{Timeout: 10 * time.Second}}
	stsAt := func(c Creds, region, endpoint string) stsAPI {
		return sts.New(sts.Options{
			Region:       region,
			Credentials:  StaticProvider(c),
			BaseEndpoint: nonEmpty(endpoint),
			HTTPClient:   httpClient,
		})
	}
	iamAt := func(c Creds, endpoint string) iamAPI {
		return iam.New(iam.Options{
			Region:       "us-east-1",
			Credentials:  StaticProvider(c),
			BaseEndpoint: nonEmpty(endpoint),
			HTTPClient:   httpClient,
		})
	}
	return Clients{
		STS:   func(c Creds, region string) stsAPI { return stsAt(c, region, aws.ToString(Endpoint("STS"))) },
		IAM:   func(c Creds) iamAPI { return iamAt(c, aws.ToString(Endpoint("IAM"))) },
		STSAt: stsAt,
		IAMAt: iamAt,
	}
}

// maxResponseBody bounds what broker reads of one STS or IAM answer: real
// ones are a few KiB, and a hostile or broken endpoint must not make broker
// hold hundreds of MiB before the answer is checked.
const maxResponseBody = 1 << 20

// ErrResponseTooLarge is what reading an answer past maxResponseBody gives.
var ErrResponseTooLarge = errors.New("the answer is larger than 1 MiB, more than any STS or IAM answer")

// boundedClient is an HTTP client whose response bodies end in an error
// past maxResponseBody.
type boundedClient struct{ c *http.Client }

func (b boundedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := b.c.Do(req)
	if err == nil && resp.Body != nil {
		resp.Body = &boundedBody{ReadCloser: resp.Body, left: maxResponseBody}
	}
	return resp, err
}

type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, ErrResponseTooLarge
		}
		return b.ReadCloser.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sts is an STS client for the plan's region and endpoint.
func (b *Broker) sts(c Creds, p Plan) stsAPI {
	region := signingRegion(p)
	// STS serves the environment's endpoint (and what tests put there).
	if b.Clients.STSAt != nil && p.STSEndpoint != aws.ToString(Endpoint("STS")) {
		return b.Clients.STSAt(c, region, p.STSEndpoint)
	}
	return b.Clients.STS(c, region)
}

// signingRegion is the region the plan's STS calls are signed for:
// us-east-1 when none is named.
func signingRegion(p Plan) string {
	if p.Region == "" {
		return "us-east-1"
	}
	return p.Region
}

// endpoints is a plan for calls about profile's key outside of minting a
// session (in us-east-1): its configured endpoints, or, when it has no
// plan, those of the environment alone.
func (b *Broker) endpoints(profile string) Plan {
	p := Plan{Region: "us-east-1"}
	if plan, err := b.Plan(profile); err == nil {
		p.STSEndpoint, p.IAMEndpoint = plan.STSEndpoint, plan.IAMEndpoint
	} else {
		p.STSEndpoint, p.IAMEndpoint = aws.ToString(Endpoint("STS")), aws.ToString(Endpoint("IAM"))
	}
	return p
}

// iam is an IAM client for the plan's endpoint.
func (b *Broker) iam(c Creds, p Plan) iamAPI {
	if b.Clients.IAMAt != nil && p.IAMEndpoint != aws.ToString(Endpoint("IAM")) {
		return b.Clients.IAMAt(c, p.IAMEndpoint)
	}
	return b.Clients.IAM(c)
}

// StaticProvider signs with c as it is, for the SDK clients broker and the
// key lifecycle make.
func StaticProvider(c Creds) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{
			AccessKeyID:     c.AccessKeyID,
			SecretAccessKey: c.SecretAccessKey,
			SessionToken:    c.SessionToken,
			Source:          "broker",
		}, nil
	})
}

// Endpoint returns the endpoint override for a service ("STS", "IAM") from
// AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL, as the AWS SDKs read them;
// nil means the SDK's default endpoint.
func Endpoint(service string) *string {
	if os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "true" {
		return nil
	}
	for _, name := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(name); v != "" {
			return &v
		}
	}
	return nil
}

// classify turns an AWS call's error into one of broker's typed errors where
// a caller must decide something; others pass through wrapped.
func classify(err error, service string, profile, keyID string) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException":
			return &RejectedKeyError{Profile: profile, KeyID: MaskKeyID(keyID), Err: err}
		case "AccessDenied":
			if strings.Contains(apiErr.ErrorMessage(), "MultiFactorAuthentication") {
				return &MFARejectedError{Err: err}
			}
		}
		return err
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		endpoint := ""
		if e := Endpoint(strings.ToUpper(service)); e != nil {
			endpoint = *e
		}
		return &UnreachableError{Service: service, Endpoint: endpoint, Err: err}
	}
	return err
}
