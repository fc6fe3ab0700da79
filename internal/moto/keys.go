package moto

import (
	"errors"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// AccessKeys returns the status ("Active" or "Inactive") of each access key
// of the IAM user, by key ID, as moto holds them. The call is the helpers'
// own, so Requests leaves it out.
func (s *Server) AccessKeys(t testing.TB, user string) map[string]string {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	out, err := s.iamClient().ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("moto: listing the access keys of %q: %v", user, err)
	}
	keys := map[string]string{}
	for _, k := range out.AccessKeyMetadata {
		keys[aws.ToString(k.AccessKeyId)] = string(k.Status)
	}
	return keys
}

// SetKeyStatus makes an access key of the user "Active" or "Inactive".
func (s *Server) SetKeyStatus(t testing.TB, user, keyID, status string) {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	_, err := s.iamClient().UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: types.StatusType(status),
	})
	if err != nil {
		t.Fatalf("moto: setting key %s of %q %s: %v", keyID, user, status, err)
	}
}

// UserTags returns the tags of the IAM user, by tag key.
func (s *Server) UserTags(t testing.TB, user string) map[string]string {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	out, err := s.iamClient().ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("moto: listing the tags of %q: %v", user, err)
	}
	tags := map[string]string{}
	for _, tag := range out.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return tags
}

// UserPolicy returns the inline policy document of the IAM user named
// name, decoded from the URL encoding IAM answers with; "" if there is none.
func (s *Server) UserPolicy(t testing.TB, user, name string) string {
	t.Helper()
	ctx, cancel := helperContext(t)
	defer cancel()
	out, err := s.iamClient().GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name)})
	var missing *types.NoSuchEntityException
	if errors.As(err, &missing) {
		return ""
	}
	if err != nil {
		t.Fatalf("moto: reading policy %q of %q: %v", name, user, err)
	}
	doc, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
	if err != nil {
		t.Fatalf("moto: policy %q of %q: %v", name, user, err)
	}
	return doc
}
