package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/broker-dev/broker/vault"
)

// assumeRoleInput is the AssumeRole request for role r of plan p: with its
// external ID, source identity and session tags.
func (b *Broker) assumeRoleInput(ctx context.Context, p Plan, key vault.Key, r Role) (*sts.AssumeRoleInput, error) {
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(r.ARN),
		RoleSessionName: aws.String(sessionName(r, b.now())),
		DurationSeconds: seconds(r.Duration),
	}
	if r.ExternalID != "" {
		in.ExternalId = aws.String(r.ExternalID)
	}
	switch {
	case r.SourceIdentityUser:
		name, err := b.userName(ctx, p, key)
		if err != nil {
			return nil, fmt.Errorf("broker_source_identity of profile %q: %w", r.Profile, err)
		}
		in.SourceIdentity = aws.String(name)
	case r.SourceIdentity != "":
		in.SourceIdentity = aws.String(r.SourceIdentity)
	}
	for _, t := range r.Tags {
		in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	in.TransitiveTagKeys = r.TransitiveTagKeys
	return in, nil
}

// userName is the name of the IAM user owning the plan's key, from
// GetCallerIdentity signed by the key (which needs no permission).
func (b *Broker) userName(ctx context.Context, p Plan, key vault.Key) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := b.sts(Creds{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, p).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", classify(err, "sts", p.Root, key.AccessKeyID)
	}
	arn := aws.ToString(out.Arn)
	_, resource, ok := strings.Cut(arn, ":user/")
	if !ok {
		return "", fmt.Errorf("the key of profile %q belongs to %s, not an IAM user", p.Root, arn)
	}
	return resource[strings.LastIndex(resource, "/")+1:], nil
}

// roleHashParts are what a role's cache ID covers beyond its ARN, external
// ID, session name and duration; nothing for a role without them, so the
// IDs of sessions cached before these settings existed stay the same.
func roleHashParts(r Role) []string {
	var parts []string
	if r.SourceIdentityUser {
		parts = append(parts, "source-identity-user")
	} else if r.SourceIdentity != "" {
		parts = append(parts, "source-identity", r.SourceIdentity)
	}
	for _, t := range r.Tags {
		parts = append(parts, "tag", t.Key, t.Value)
	}
	for _, k := range r.TransitiveTagKeys {
		parts = append(parts, "transitive", k)
	}
	return parts
}

// atEndpoint names the endpoint the plan configures in an UnreachableError.
func atEndpoint(err error, p Plan) error {
	var down *UnreachableError
	if p.STSEndpoint != "" && errors.As(err, &down) && down.Service == "sts" {
		down.Endpoint = p.STSEndpoint
	}
	return err
}

// cappedNote says, in a debug line, that the role's duration was capped.
func cappedNote(r Role) string {
	if r.Capped == 0 {
		return ""
	}
	return fmt.Sprintf(", for %s instead of its duration_seconds %s: STS grants a chained role 1h at most", r.Duration, r.Capped)
}
