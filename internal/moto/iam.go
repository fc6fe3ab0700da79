package moto

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// HelperKeyID signs the IAM calls of NewUserKey, NewMFADevice and NewRole
// while moto accepts any key (until EnforceAuth). Requests leaves out calls
// signed with the helpers' keys, so a test sees only the calls its code under
// test made.
const HelperKeyID = "MOTOTESTHELPER"

// helperUser owns the real key the helpers sign with once auth is enforced.
const helperUser = "moto-test-helper"

// stsPolicy lets a user made by NewUserKey call STS when auth is enforced;
// moto, unlike AWS, wants a policy even for GetSessionToken.
const stsPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}`

const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// iamClient returns an IAM client for this server, signed with the helpers' key.
func (s *Server) iamClient() *iam.Client {
	s.mu.Lock()
	cred := s.helper
	s.mu.Unlock()
	return iam.New(iam.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return cred, nil
		}),
		HTTPClient: s.http,
	})
}

// EnforceAuth makes moto authenticate and authorize every later request, as
// AWS does: an access key moto's IAM does not know gets InvalidClientTokenId,
// a wrong secret SignatureDoesNotMatch, and a known key needs an IAM policy
// allowing the action (users from NewUserKey may call sts:*), except for
// GetCallerIdentity. Keys made before stay valid; to see a key rejected,
// Reset first or use a key NewUserKey never returned. AssumeRole credentials
// work, but moto then rejects its fixed GetSessionToken credentials with
// InvalidClientTokenId: it never registers them. The helpers keep working
// with a key of their own. Reset turns enforcement off again.
func (s *Server) EnforceAuth(t testing.TB) {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	c := s.iamClient()
	if err := ensureUser(ctx, c, helperUser); err != nil {
		t.Fatalf("moto: %v", err)
	}
	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(helperUser), PolicyName: aws.String("admin"), PolicyDocument: aws.String(adminPolicy),
	})
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(helperUser)})
	if err != nil {
		t.Fatalf("moto: creating the helpers' key: %v", err)
	}
	s.mu.Lock()
	s.helper = aws.Credentials{
		AccessKeyID:     aws.ToString(out.AccessKey.AccessKeyId),
		SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey),
		Source:          "moto",
	}
	s.helperKeys[s.helper.AccessKeyID] = true
	s.mu.Unlock()
	if err := s.postBody("/moto-api/reset-auth", "0"); err != nil {
		t.Fatalf("moto: enforcing auth: %v", err)
	}
}

func helperContext(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), 30*time.Second)
}

// NewUserKey creates the IAM user if it does not exist yet, allowed to call
// STS, and a new access key for it: a long-term key pair moto knows, whose
// calls run as that user.
func (s *Server) NewUserKey(t testing.TB, user string) (keyID, secret string) {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	c := s.iamClient()
	if err := ensureUser(ctx, c, user); err != nil {
		t.Fatalf("moto: %v", err)
	}
	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(user), PolicyName: aws.String("sts"), PolicyDocument: aws.String(stsPolicy),
	})
	if err != nil {
		t.Fatalf("moto: allowing %q to call STS: %v", user, err)
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("moto: creating access key for %q: %v", user, err)
	}
	return aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)
}

// NewMFADevice creates a virtual MFA device named after the user and enables
// it for them (creating the user if needed); it returns the device's serial
// number, an ARN like arn:aws:iam::123456789012:mfa/alice. moto accepts any
// token code for it.
func (s *Server) NewMFADevice(t testing.TB, user string) (serialARN string) {
	t.Helper()
	return s.NewNamedMFADevice(t, user, user)
}

// NewNamedMFADevice is NewMFADevice with a device name of its own, for a
// user's second device.
func (s *Server) NewNamedMFADevice(t testing.TB, user, device string) (serialARN string) {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	c := s.iamClient()
	if err := ensureUser(ctx, c, user); err != nil {
		t.Fatalf("moto: %v", err)
	}
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(device)})
	if err != nil {
		t.Fatalf("moto: creating MFA device for %q: %v", user, err)
	}
	serial := aws.ToString(dev.VirtualMFADevice.SerialNumber)
	_, err = c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{
		UserName:            aws.String(user),
		SerialNumber:        aws.String(serial),
		AuthenticationCode1: aws.String("123456"),
		AuthenticationCode2: aws.String("654321"),
	})
	if err != nil {
		t.Fatalf("moto: enabling MFA device %s: %v", serial, err)
	}
	return serial
}

// NewRole creates a role that any principal may assume and
// returns its ARN. (moto's AssumeRole does not check that the role exists;
// a real role makes GetRole and the like work too.)
func (s *Server) NewRole(t testing.TB, name string) (roleARN string) {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	// "*", not the account root: moto matches a trust policy's principal
	// only against "*" or the caller's exact ARN.
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
		`"Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	out, err := s.iamClient().CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		AssumeRolePolicyDocument: aws.String(trust),
	})
	if err != nil {
		t.Fatalf("moto: creating role %q: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

func ensureUser(ctx context.Context, c *iam.Client, user string) error {
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)})
	var exists *types.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("creating user %q: %w", user, err)
	}
	return nil
}
