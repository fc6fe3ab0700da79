package moto_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/broker-dev/broker/internal/moto"
)

func stsClient(srv *moto.Server, keyID, secret, token string) *sts.Client {
	return sts.New(sts.Options{
		Region:       moto.Region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: token}, nil
		}),
	})
}

func TestGetSessionTokenIsRecorded(t *testing.T) {
	srv := moto.Start(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want http://127.0.0.1:PORT", srv.URL)
	}
	keyID, secret := srv.NewUserKey(t, "alice")
	serial := srv.NewMFADevice(t, "alice")
	if want := "arn:aws:iam::" + moto.DefaultAccountID + ":mfa/alice"; serial != want {
		t.Errorf("serial = %q, want %q", serial, want)
	}
	if got := srv.Requests(t); len(got) != 0 {
		t.Fatalf("helpers' own calls were reported: %+v", got)
	}

	out, err := stsClient(srv, keyID, secret, "").GetSessionToken(t.Context(), &sts.GetSessionTokenInput{
		SerialNumber:    aws.String(serial),
		TokenCode:       aws.String("123456"),
		DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Credentials.AccessKeyId); got != moto.FixedSessionKeyID {
		t.Errorf("session key = %q, want moto's fixed %q", got, moto.FixedSessionKeyID)
	}
	if aws.ToString(out.Credentials.SecretAccessKey) != moto.FixedSessionSecret || aws.ToString(out.Credentials.SessionToken) != moto.FixedSessionToken {
		t.Errorf("session secret or token is not moto's fixed one")
	}

	reqs := srv.Requests(t)
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
	}
	r := reqs[0]
	if r.Action != "GetSessionToken" || r.Service != "sts" || r.Region != moto.Region {
		t.Errorf("Action, Service, Region = %q, %q, %q; want GetSessionToken, sts, %s", r.Action, r.Service, r.Region, moto.Region)
	}
	if r.SigningKeyID != keyID {
		t.Errorf("SigningKeyID = %q, want %q", r.SigningKeyID, keyID)
	}
	if r.SecurityToken {
		t.Error("SecurityToken = true for a call signed with a long-term key")
	}
	for k, want := range map[string]string{"SerialNumber": serial, "TokenCode": "123456", "DurationSeconds": "900"} {
		if r.Params[k] != want {
			t.Errorf("Params[%s] = %q, want %q", k, r.Params[k], want)
		}
	}
	if n := srv.Count(t, "GetSessionToken"); n != 1 {
		t.Errorf("Count(GetSessionToken) = %d, want 1", n)
	}

	// A call with the session credentials carries the token.
	c := out.Credentials
	_, err = stsClient(srv, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	reqs = srv.Requests(t)
	if last := reqs[len(reqs)-1]; last.Action != "GetCallerIdentity" || !last.SecurityToken || last.SigningKeyID != moto.FixedSessionKeyID {
		t.Errorf("last request = %q signed by %q, SecurityToken %v; want GetCallerIdentity by %s with a token",
			last.Action, last.SigningKeyID, last.SecurityToken, moto.FixedSessionKeyID)
	}

	// The recording holds that token, which is why secret scans skip RecordDir.
	rec, err := os.ReadFile(filepath.Join(srv.RecordDir, "recording.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec), *c.SessionToken) {
		t.Error("recording in RecordDir does not hold the X-Amz-Security-Token header")
	}
}

func TestAssumeRoleAndReset(t *testing.T) {
	srv := moto.Start(t)
	keyID, secret := srv.NewUserKey(t, "bob")
	role := srv.NewRole(t, "admin")
	if want := "arn:aws:iam::" + moto.DefaultAccountID + ":role/admin"; role != want {
		t.Errorf("role = %q, want %q", role, want)
	}
	out, err := stsClient(srv, keyID, secret, "").AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn:         aws.String(role),
		RoleSessionName: aws.String("s1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Credentials.AccessKeyId); !strings.HasPrefix(got, "ASIA") {
		t.Errorf("AssumeRole key = %q, want ASIA...", got)
	}
	if n := srv.Count(t, "AssumeRole"); n != 1 {
		t.Errorf("Count(AssumeRole) = %d, want 1", n)
	}
	if got := srv.Requests(t)[0].Params["RoleArn"]; got != role {
		t.Errorf("Params[RoleArn] = %q, want %q", got, role)
	}

	srv.Reset(t)
	if got := srv.Requests(t); len(got) != 0 {
		t.Errorf("after Reset: %d requests recorded, want 0", len(got))
	}
	// The user and key are gone too: a new user of the same name starts over.
	key2, _ := srv.NewUserKey(t, "bob")
	if key2 == keyID {
		t.Error("Reset kept moto's state")
	}
}

func TestServersAreIndependent(t *testing.T) {
	a, b := moto.Start(t), moto.Start(t)
	if a.URL == b.URL || a.RecordDir == b.RecordDir {
		t.Fatalf("two servers share %s / %s", a.URL, a.RecordDir)
	}
	k, s := a.NewUserKey(t, "carol")
	if _, err := stsClient(a, k, s, "").GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if a.Count(t, "GetCallerIdentity") != 1 || b.Count(t, "GetCallerIdentity") != 0 {
		t.Error("a call to one server was recorded by the other")
	}
}

func TestEnforceAuth(t *testing.T) {
	srv := moto.Start(t)
	keyID, secret := srv.NewUserKey(t, "erin")
	role := srv.NewRole(t, "deployer")
	srv.EnforceAuth(t)

	var apiErr smithy.APIError
	_, err := stsClient(srv, "AKIAUNKNOWNKEY000000", "x", "").GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidClientTokenId" {
		t.Errorf("unknown key: err = %v, want InvalidClientTokenId", err)
	}
	_, err = stsClient(srv, keyID, "wrong", "").GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: err = %v, want SignatureDoesNotMatch", err)
	}
	c := stsClient(srv, keyID, secret, "")
	if _, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{}); err != nil {
		t.Errorf("GetSessionToken with a NewUserKey key: %v", err)
	}
	if _, err := c.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s")}); err != nil {
		t.Errorf("AssumeRole of a NewRole role: %v", err)
	}

	// The helpers still work, and their calls stay out of Requests.
	key2, _ := srv.NewUserKey(t, "frank")
	srv.NewMFADevice(t, "frank")
	for _, r := range srv.Requests(t) {
		if r.Service != "sts" {
			t.Errorf("a helper's call was reported: %s signed by %s", r.Action, r.SigningKeyID)
		}
	}
	if n := len(srv.Requests(t)); n != 4 {
		t.Errorf("%d requests recorded, want 4", n)
	}

	srv.Reset(t)
	if _, err := stsClient(srv, key2, "whatever", "").GetSessionToken(t.Context(), &sts.GetSessionTokenInput{}); err != nil {
		t.Errorf("after Reset moto still checks keys: %v", err)
	}
	srv.NewUserKey(t, "gina")
}
