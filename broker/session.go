package broker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/broker-dev/broker/mfa"
	"github.com/broker-dev/broker/vault"
)

// maxMFAAttempts is how often a person typing codes is asked before giving up.
const maxMFAAttempts = 3

// cacheID names the session made at a level of the plan (0: the MFA session,
// i: after the i-th role). It covers everything that decides the credentials,
// so a changed config or a new key never finds a stale session: among them
// who mints it, the STS endpoint configured (a LocalStack session is never
// served for AWS) and the partition of the region signed for (nor an aws
// session for aws-cn). The SDK's default endpoint for the region counts as
// none, so another region of the same partition finds the same session and
// asks for no new code.
//
// The "v2" marks the format: sessions cached under the old one, which
// covered neither endpoint nor partition, are never found again, and are
// purged once expired.
func cacheID(p Plan, key vault.Key, level int) string {
	var parent string
	if level == 0 {
		parent = hashOf("mfa-v2", key.AccessKeyID, p.MFASerial, strconv.FormatBool(p.NoMFA), p.SessionDuration.String(),
			p.STSEndpoint, partitionID(signingRegion(p)))
	} else if direct(p, level) {
		parent = hashOf("direct-v2", key.AccessKeyID, p.MFASerial, strconv.FormatBool(p.NoMFA),
			p.STSEndpoint, partitionID(signingRegion(p)))
	} else {
		parent = cacheID(p, key, level-1)
	}
	if level == 0 {
		return parent
	}
	r := p.Roles[level-1]
	return hashOf(append([]string{"role", parent, r.ARN, r.ExternalID, r.SessionName, r.Duration.String()}, roleHashParts(r)...)...)
}

// partitionID names the partition of region for the cache key: aws, aws-cn,
// aws-us-gov, or for the isolated ones (us-iso-east-1, eu-isoe-west-1) their
// region prefix, so that each is apart from the others.
func partitionID(region string) string {
	if prefix, rest, ok := strings.Cut(region, "-"); ok {
		if kind, _, ok := strings.Cut(rest, "-"); ok && strings.HasPrefix(kind, "iso") {
			return "aws-" + prefix + "-" + kind
		}
	}
	return PartitionOf(region).ID
}

func hashOf(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// direct reports whether the role at level is assumed from the long-term key
// itself: it asks for more than STS grants a chained role.
func direct(p Plan, level int) bool {
	return level == 1 && p.Roles[0].Duration > roleChainLimit
}

// resolve returns the session at level, from the cache or freshly minted
// under the session's cross-process lock.
func (b *Broker) resolve(ctx context.Context, p Plan, key vault.Key, level int) (vault.Session, error) {
	id := cacheID(p, key, level)
	if s, ok, err := b.cached(id); ok || err != nil {
		return s, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, lockWait)
	unlock, err := lock(waitCtx, b.LockDir, id)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return vault.Session{}, &LockTimeoutError{Profile: p.Profile}
	}
	if err != nil {
		return vault.Session{}, err
	}
	defer unlock()
	// Another process may have minted it while this one waited.
	if s, ok, err := b.cached(id); ok || err != nil {
		return s, err
	}
	s, err := b.mint(ctx, p, key, level)
	if err != nil {
		return vault.Session{}, atEndpoint(err, p)
	}
	if err := b.checkGranted(p, level, s); err != nil {
		return vault.Session{}, err
	}
	s.ID, s.SourceKeyID = id, key.AccessKeyID
	s.Profile = p.Root
	if level > 0 {
		s.Profile, s.RoleARN = p.Roles[level-1].Profile, p.Roles[level-1].ARN
	}
	if err := b.Vault.SetSession(s); err != nil {
		// The credentials are good; only the next call pays for the failure.
		b.debugf("caching session for profile %q failed: %v", s.Profile, err)
	}
	b.purgeExpired()
	return s, nil
}

// cached returns a session with at least MinRemaining left.
func (b *Broker) cached(id string) (vault.Session, bool, error) {
	s, err := b.Vault.Session(id)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.Session{}, false, nil
	}
	if err != nil {
		return vault.Session{}, false, fmt.Errorf("reading the session cache: %w", err)
	}
	if err := checkComplete(s); err != nil {
		b.debugf("cached session %s: %v: minting a new one", id, err)
		return vault.Session{}, false, nil
	}
	if s.Expiration.Sub(b.now()) < MinRemaining {
		b.debugf("cached session for profile %q expires at %s: renewing", s.Profile, s.Expiration.Format(time.RFC3339))
		return vault.Session{}, false, nil
	}
	b.debugf("using cached session for profile %q until %s", s.Profile, s.Expiration.Format(time.RFC3339))
	return s, true, nil
}

// purgeExpired drops expired sessions; a failure costs nothing but space.
func (b *Broker) purgeExpired() {
	all, err := b.Vault.Sessions()
	if err != nil {
		return
	}
	for _, s := range all {
		if !s.Expiration.After(b.now()) {
			_ = b.Vault.RemoveSession(s.ID)
		}
	}
}

// mint calls STS for the session at level.
func (b *Broker) mint(ctx context.Context, p Plan, key vault.Key, level int) (vault.Session, error) {
	keyCreds := Creds{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	if level == 0 {
		b.debugf("GetSessionToken for profile %q with key %s", p.Root, MaskKeyID(key.AccessKeyID))
		in := &sts.GetSessionTokenInput{DurationSeconds: seconds(p.SessionDuration)}
		var out *sts.GetSessionTokenOutput
		err := b.withMFA(ctx, p, func(code string) (err error) {
			if code != "" {
				in.SerialNumber, in.TokenCode = aws.String(p.MFASerial), aws.String(code)
			}
			cctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			out, err = b.sts(keyCreds, p).GetSessionToken(cctx, in)
			return classify(err, "sts", p.Root, key.AccessKeyID)
		})
		if err != nil {
			return vault.Session{}, err
		}
		return fromSTS(out.Credentials)
	}

	r := p.Roles[level-1]
	in, err := b.assumeRoleInput(ctx, p, key, r)
	if err != nil {
		return vault.Session{}, err
	}
	var out *sts.AssumeRoleOutput
	if direct(p, level) {
		b.debugf("AssumeRole %s for profile %q from the long-term key (%s exceeds the role-chaining limit)", r.ARN, r.Profile, r.Duration)
		err := b.withMFA(ctx, p, func(code string) (err error) {
			if code != "" {
				in.SerialNumber, in.TokenCode = aws.String(p.MFASerial), aws.String(code)
			}
			cctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			out, err = b.sts(keyCreds, p).AssumeRole(cctx, in)
			return classify(err, "sts", p.Root, key.AccessKeyID)
		})
		if err != nil {
			return vault.Session{}, err
		}
		return fromSTS(out.Credentials)
	}
	parent, err := b.resolve(ctx, p, key, level-1)
	if err != nil {
		return vault.Session{}, err
	}
	b.debugf("AssumeRole %s for profile %q%s", r.ARN, r.Profile, cappedNote(r))
	creds := Creds{AccessKeyID: parent.AccessKeyID, SecretAccessKey: parent.SecretAccessKey, SessionToken: parent.SessionToken}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err = b.sts(creds, p).AssumeRole(cctx, in)
	if err != nil {
		return vault.Session{}, fmt.Errorf("assuming role %s: %w", r.ARN, classify(err, "sts", p.Root, key.AccessKeyID))
	}
	return fromSTS(out.Credentials)
}

// withMFA runs call with a fresh MFA code ("" for a profile that opted out),
// asking again when STS rejects a code a person typed, and remembers the
// code STS accepted: it takes each code once.
func (b *Broker) withMFA(ctx context.Context, p Plan, call func(code string) error) error {
	if p.NoMFA && p.MFASerial == "" {
		return call("")
	}
	used := usedCodes{b}
	for attempt := 0; ; attempt++ {
		code, interactive, err := b.MFA.Code(ctx, mfa.Request{
			Profile: p.Profile, Serial: p.MFASerial, Process: p.MFAProcess, Attempt: attempt,
			YubiKeyOATH: p.YubiKeyOATH, Prompt: p.MFAPrompt, Used: used,
		})
		if err != nil {
			return fmt.Errorf("getting an MFA code for profile %q: %w", p.Profile, err)
		}
		err = call(code)
		if err == nil {
			used.Used(p.MFASerial, code, b.now())
			return nil
		}
		var rejected *MFARejectedError
		if !errors.As(err, &rejected) {
			return err
		}
		rejected.Serial = p.MFASerial
		if interactive {
			if attempt+1 >= maxMFAAttempts {
				return err
			}
			continue
		}
		// A source that cannot be asked for another code (mfa_process, the
		// flag) gets one more try when the code it gave was just used: the
		// token source waits for the next one, or says what went wrong.
		if attempt == 0 && mfa.Spent(used, p.MFASerial, code, b.now()) {
			b.debugf("the MFA code for profile %q was already used for %s; asking for the next one", p.Profile, p.MFASerial)
			continue
		}
		return err
	}
}

// usedCodes keeps the last MFA code STS accepted per device in the
// keychain, for the token source to check. Failing to read or write it
// costs at most one rejected code, so a failure is only logged.
type usedCodes struct{ b *Broker }

func (u usedCodes) LastUsed(serial string) (string, time.Time, bool) {
	c, err := u.b.Vault.MFACode(serial)
	if err != nil {
		if !errors.Is(err, vault.ErrNotFound) {
			u.b.debugf("%v", err)
		}
		return "", time.Time{}, false
	}
	return c.Code, c.Used, true
}

func (u usedCodes) Used(serial, code string, at time.Time) {
	if serial == "" || code == "" {
		return
	}
	if err := u.b.Vault.SetMFACode(vault.MFACode{Serial: serial, Code: code, Used: at}); err != nil {
		u.b.debugf("%v", err)
	}
}

func fromSTS(c *types.Credentials) (vault.Session, error) {
	if c == nil || c.Expiration == nil {
		return vault.Session{}, fmt.Errorf("STS answered with %w", ErrIncomplete)
	}
	s := vault.Session{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Expiration:      c.Expiration.UTC(),
	}
	if err := checkComplete(s); err != nil {
		return vault.Session{}, fmt.Errorf("STS answered with %w", err)
	}
	return s, nil
}

func seconds(d time.Duration) *int32 {
	return aws.Int32(int32(d / time.Second))
}

func sessionName(r Role, now time.Time) string {
	if r.SessionName != "" {
		return r.SessionName
	}
	return fmt.Sprintf("broker-%d", now.Unix())
}

// MFASession returns the key behind profile and its MFA session (cached, or
// minted with one MFA code), for IAM calls: IAM refuses session credentials
// minted without MFA, and one code must serve a whole command.
func (b *Broker) MFASession(ctx context.Context, name string) (Plan, vault.Key, Creds, error) {
	p, err := b.Plan(name)
	if err != nil {
		return Plan{}, vault.Key{}, Creds{}, err
	}
	key, err := b.Vault.Key(p.Root)
	if errors.Is(err, vault.ErrNotFound) {
		return Plan{}, vault.Key{}, Creds{}, &NoKeyError{Profile: p.Root}
	}
	if err != nil {
		return Plan{}, vault.Key{}, Creds{}, err // vault says whose key
	}
	if p.MFASerial == "" {
		return Plan{}, vault.Key{}, Creds{}, &NoMFAError{Profile: name}
	}
	if err := checkDurations(p); err != nil {
		return Plan{}, vault.Key{}, Creds{}, err
	}
	s, err := b.resolve(ctx, p, key, 0)
	if err != nil {
		return Plan{}, vault.Key{}, Creds{}, err
	}
	return p, key, Creds{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}, nil
}
