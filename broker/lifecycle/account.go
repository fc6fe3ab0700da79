package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/broker-dev/broker/broker"
)

// `broker keys PROFILE --all` lists every access key of every IAM user of
// the account, as the console's user list with its "Access key age" and
// "last used" columns. Ages and last use come from the credential report,
// one download for the whole account; key IDs from ListUsers and
// ListAccessKeys, a few users at a time. A key the report does not cover
// (made since it was generated, or with a last use but no service) is
// asked about with GetAccessKeyLastUsed, as is every key when the caller
// may not have the report.

// DefaultUnusedDays is how long an active key may go unused before it is
// flagged.
const DefaultUnusedDays = 90

// The flags of a key in a listing.
const (
	FlagOverMaxAge = "over-max-age" // active and older than the max age
	FlagUnused     = "unused"       // active and never used, or not for the unused days
	FlagTwoActive  = "two-active"   // its user has two active keys
	FlagRoot       = "root-key"     // a key of the account's root user: full access, no policy limits it
)

// AllFlags lists the flags in the order a summary counts them.
var AllFlags = []string{FlagRoot, FlagOverMaxAge, FlagUnused, FlagTwoActive}

// accountWorkers bounds the IAM calls in flight for a listing; IAM
// throttles an account's callers together.
const accountWorkers = 8

// reportWait bounds how long IAM may take to generate the credential report.
const reportWait = time.Minute

// AccountList is what `broker keys PROFILE --all` shows.
type AccountList struct {
	Account    string      `json:"account"`
	MaxAgeDays int         `json:"max_age_days"`
	UnusedDays int         `json:"unused_days"`
	Users      int         `json:"users"`
	Keys       []AccessKey `json:"keys"`
	// NoReport says why the credential report was not used ("": it was):
	// last use then comes key by key, and the root user's keys are unknown.
	NoReport string `json:"no_report,omitempty"`
}

// Account lists every key of every IAM user of the account, and the root
// user's from the credential report, sorted by user and age, flagged.
func (l *Session) Account(ctx context.Context, maxAgeDays, unusedDays int) (AccountList, error) {
	list := AccountList{Account: l.User.Account, MaxAgeDays: maxAgeDays, UnusedDays: unusedDays, Keys: []AccessKey{}}
	rows, err := l.credentialReport(ctx)
	if refused(err) {
		l.m.debugf("no credential report: %v", err)
		list.NoReport, err = reportProblem(err), nil
	}
	if err != nil {
		return list, err
	}
	users, err := l.users(ctx)
	if err != nil {
		return list, err
	}
	list.Users = len(users)
	keys, err := l.accountKeys(ctx, users, rows)
	if err != nil {
		return list, err
	}
	now := l.m.now()
	if root, ok := rows[RootUser]; ok {
		for _, rk := range root.Keys {
			if !rk.Present {
				continue
			}
			k := AccessKey{User: RootUser, Root: true, Status: StatusInactive, Created: rk.Rotated,
				AgeDays: daysSince(now, rk.Rotated), LastUsed: rk.LastUsed, LastService: rk.Service, LastRegion: rk.Region, Flags: []string{}}
			if rk.Active {
				k.Status = StatusActive
			}
			keys = append(keys, k)
		}
	}
	slices.SortStableFunc(keys, func(a, b AccessKey) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return a.Created.Compare(b.Created)
	})
	flag(keys, now, maxAgeDays, unusedDays)
	list.Keys = keys
	return list, nil
}

// users lists the names of every IAM user.
func (l *Session) users(ctx context.Context) ([]string, error) {
	var names []string
	pages := iam.NewListUsersPaginator(l.iam, &iam.ListUsersInput{})
	for pages.HasMorePages() {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		out, err := pages.NextPage(cctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing the IAM users: %w", l.classify(err))
		}
		for _, u := range out.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	return names, nil
}

// accountKeys lists the keys of users, accountWorkers users at a time.
func (l *Session) accountKeys(ctx context.Context, users []string, rows map[string]reportRow) ([]AccessKey, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	todo := make(chan int)
	found := make([][]AccessKey, len(users))
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(accountWorkers, len(users)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range todo {
				keys, err := l.userKeys(ctx, users[i], rows)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				found[i] = keys
			}
		}()
	}
feed:
	for i := range users {
		select {
		case todo <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return slices.Concat(found...), nil
}

// userKeys lists one user's keys with last use and description. A user
// deleted since ListUsers has none.
func (l *Session) userKeys(ctx context.Context, user string, rows map[string]reportRow) ([]AccessKey, error) {
	keys, err := l.listKeys(ctx, user)
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	tags, err := l.userTags(ctx, user)
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	row, inReport := rows[user]
	for i := range keys {
		k := &keys[i]
		tags.describe(k)
		if l.own != nil && l.own.key.ID == k.ID {
			_ = l.lastUsed(ctx, k) // read before the report, which broker's own calls made stale
			continue
		}
		if rk, ok := row.slotOf(i, k.Created); inReport && ok && (rk.LastUsed == nil || rk.Service != "") {
			k.LastUsed, k.LastService, k.LastRegion = rk.LastUsed, rk.Service, rk.Region
			continue
		}
		if err := l.lastUsed(ctx, k); err != nil && !isNoSuchEntity(err) {
			return nil, err
		}
	}
	return keys, nil
}

// flag sets each key's flags.
func flag(keys []AccessKey, now time.Time, maxAgeDays, unusedDays int) {
	active := map[string]int{}
	for _, k := range keys {
		if k.Status == StatusActive {
			active[k.User]++
		}
	}
	for i := range keys {
		k := &keys[i]
		k.Flags = []string{}
		if k.Root {
			k.Flags = append(k.Flags, FlagRoot)
		}
		if k.Status != StatusActive {
			continue
		}
		if k.OverMaxAge = k.AgeDays > maxAgeDays; k.OverMaxAge {
			k.Flags = append(k.Flags, FlagOverMaxAge)
		}
		if k.UseUnseen == "" && (k.LastUsed == nil || daysSince(now, *k.LastUsed) >= unusedDays) {
			k.Flags = append(k.Flags, FlagUnused)
		}
		if active[k.User] > 1 {
			k.Flags = append(k.Flags, FlagTwoActive)
		}
	}
}

// credentialReport has IAM generate the credential report, waits until it
// is complete, and reads it, by user name.
func (l *Session) credentialReport(ctx context.Context) (map[string]reportRow, error) {
	ctx, cancel := context.WithTimeout(ctx, reportWait)
	defer cancel()
	pause := 100 * time.Millisecond
	for {
		out, err := l.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			return nil, fmt.Errorf("generating the credential report: %w", l.classify(err))
		}
		if out.State == iamtypes.ReportStateTypeComplete {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the credential report was not ready within %s: %w", reportWait, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
	out, err := l.iam.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		return nil, fmt.Errorf("getting the credential report: %w", l.classify(err))
	}
	parsed, err := parseReport(out.Content)
	if err != nil {
		return nil, err
	}
	rows := map[string]reportRow{}
	for _, r := range parsed {
		rows[r.User] = r
	}
	return rows, nil
}

// refused: the report failed in a way that leaves the keys to ask about one
// by one (no permission, not ready, unreadable) rather than the whole
// listing failing (no network, a dead key, a cancelled command).
func refused(err error) bool {
	var (
		down     *broker.UnreachableError
		rejected *broker.RejectedKeyError
	)
	switch {
	case err == nil, errors.As(err, &down), errors.As(err, &rejected), errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// reportProblem says in a few words why the report was not used.
func reportProblem(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return "IAM answered " + apiErr.ErrorCode()
	}
	return err.Error()
}
