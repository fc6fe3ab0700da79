package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/broker-dev/broker/broker"
)

// A key's description is what the console sets: a tag on its IAM user
// whose key is the access key ID. broker adds one tag of its own, on the
// old key of a rotation: rotatedTag(ID) = the date rotate left it inactive.

// rotatedPrefix starts the tag key marking a key `broker rotate` left inactive.
const rotatedPrefix = "broker:rotated-out:"

func rotatedTag(id string) string { return rotatedPrefix + id }

// maxDescription is IAM's limit on a tag value.
const maxDescription = 256

// ErrBadDescription refuses a description IAM would not take as a tag value.
var ErrBadDescription = errors.New("a description has at most 256 letters, digits, spaces and _ . : / = + - @")

// CheckDescription says whether IAM takes text as a tag value.
func CheckDescription(text string) error {
	if len([]rune(text)) > maxDescription {
		return ErrBadDescription
	}
	for _, r := range text {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !strings.ContainsRune("_.:/=+-@", r) {
			return ErrBadDescription
		}
	}
	return nil
}

// keyTags are a user's tags by tag key.
type keyTags map[string]string

// describe fills in k's description and rotation mark.
func (t keyTags) describe(k *AccessKey) {
	k.Description = t[k.ID]
	if v, ok := t[rotatedTag(k.ID)]; ok && k.Status == StatusInactive {
		if at, err := time.Parse(time.RFC3339, v); err == nil {
			at = at.UTC()
			k.RotatedOut = &at
		}
	}
}

// userTags lists the tags of IAM user user.
func (l *Session) userTags(ctx context.Context, user string) (keyTags, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	tags := keyTags{}
	pages := iam.NewListUserTagsPaginator(l.iam, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the tags of IAM user %q: %w", user, l.classify(err))
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

func (l *Session) tag(ctx context.Context, user, key, value string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := l.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	if err != nil {
		return fmt.Errorf("tagging IAM user %q: %w", user, l.classify(err))
	}
	return nil
}

// untag removes tags, best effort: a tag left behind names a key that is
// gone or a mark that no longer holds, and costs nothing but a line.
func (l *Session) untag(ctx context.Context, user string, keys ...string) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := l.iam.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(user), TagKeys: keys}); err != nil {
		l.m.debugf("removing tags of IAM user %q: %v", user, err)
	}
}

// Describe sets the description of key id of IAM user user ("": found by
// Owner) as the console does; an empty text removes it. It returns the
// owner.
func (l *Session) Describe(ctx context.Context, id, user, text string) (string, error) {
	if err := CheckDescription(text); err != nil {
		return "", err
	}
	owner, keys, err := l.Owner(ctx, id, user)
	if err != nil {
		return "", err
	}
	if _, ok := findKey(keys, id); !ok {
		return owner, &KeyChangeError{Profile: l.Profile, User: owner, KeyID: id, Action: "describe", Err: ErrKeyNotUsers}
	}
	if text == "" {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		if _, err := l.iam.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(owner), TagKeys: []string{id}}); err != nil {
			return owner, fmt.Errorf("removing the description of key %s: %w", broker.MaskKeyID(id), l.classify(err))
		}
		return owner, nil
	}
	return owner, l.tag(ctx, owner, id, text)
}

// moveDescription gives newID the description of oldID (returned) and,
// with mark, marks oldID as left inactive by a rotation at when. Repeating
// it is harmless.
func (l *Session) moveDescription(ctx context.Context, oldID, newID string, when time.Time, mark bool) (string, error) {
	user := l.User.UserName
	tags, err := l.userTags(ctx, user)
	if err != nil {
		return "", err
	}
	d, ok := tags[oldID]
	if !ok {
		d = tags[newID] // moved by an earlier try of this rotation
	} else {
		if err := l.tag(ctx, user, newID, d); err != nil {
			return "", err
		}
		l.untag(ctx, user, oldID)
	}
	if _, done := tags[rotatedTag(oldID)]; done || !mark {
		return d, nil
	}
	return d, l.tag(ctx, user, rotatedTag(oldID), when.UTC().Format(time.RFC3339))
}
