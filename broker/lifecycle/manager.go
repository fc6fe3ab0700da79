package lifecycle

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/broker-dev/broker/broker"
)

// iamAPI is what the key lifecycle needs from IAM; *iam.Client satisfies it.
type iamAPI interface {
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	CreateAccessKey(context.Context, *iam.CreateAccessKeyInput, ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(context.Context, *iam.DeleteAccessKeyInput, ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	ListUsers(context.Context, *iam.ListUsersInput, ...func(*iam.Options)) (*iam.ListUsersOutput, error)
	ListUserTags(context.Context, *iam.ListUserTagsInput, ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
	UntagUser(context.Context, *iam.UntagUserInput, ...func(*iam.Options)) (*iam.UntagUserOutput, error)
	GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(context.Context, *iam.GetCredentialReportInput, ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	PutUserPolicy(context.Context, *iam.PutUserPolicyInput, ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
}

// requestTimeout bounds one AWS call including its retries.
const requestTimeout = 30 * time.Second

// Manager runs the key lifecycle of a broker's profiles. The broker gives
// it each profile's stored key and MFA session; IAM is called through IAM.
type Manager struct {
	*broker.Broker
	IAM func(c broker.Creds) iamAPI // IAM client signed with c; tests may replace it
}

// New returns a Manager for b, calling the real (or AWS_ENDPOINT_URL-configured) IAM.
func New(b *broker.Broker) *Manager {
	return &Manager{Broker: b, IAM: func(c broker.Creds) iamAPI { return newIAM(c, broker.Endpoint("IAM")) }}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func newIAM(c broker.Creds, endpoint *string) iamAPI {
	return iam.New(iam.Options{
		Region:       "us-east-1",
		Credentials:  broker.StaticProvider(c),
		BaseEndpoint: endpoint,
		HTTPClient:   httpClient,
	})
}

// iamFor is an IAM client for the plan's endpoint (a profile's endpoint_url
// or services section); m.IAM when it is the environment's.
func (m *Manager) iamFor(c broker.Creds, p broker.Plan) iamAPI {
	if p.IAMEndpoint != "" && p.IAMEndpoint != aws.ToString(broker.Endpoint("IAM")) {
		return newIAM(c, aws.String(p.IAMEndpoint))
	}
	return m.IAM(c)
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) debugf(format string, args ...any) {
	if m.Debugf != nil {
		m.Debugf(format, args...)
	}
}
