package lifecycle

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The credential report (GetCredentialReport) is a CSV file with a header
// line and one line per IAM user, plus "<root_account>" for the root user.
// It names no key IDs: access_key_1 and access_key_2 are told apart by
// their last_rotated time, which for a key never rotated is when it was
// created. Values IAM has not got are "N/A", "not_supported" or
// "no_information".

// RootUser is the credential report's name for the account's root user.
const RootUser = "<root_account>"

// reportKey is one access key slot of a report line.
type reportKey struct {
	Present  bool // a key is in the slot (it has a last_rotated time)
	Active   bool
	Rotated  time.Time
	LastUsed *time.Time
	Region   string
	Service  string
}

// reportRow is one user's line.
type reportRow struct {
	User string
	ARN  string
	Keys [2]reportKey
}

// parseReport reads a credential report; a line it cannot read is an error.
func parseReport(data []byte) ([]reportRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the credential report's header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"user", "arn", "access_key_1_active", "access_key_1_last_rotated", "access_key_2_active", "access_key_2_last_rotated"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("the credential report has no %q column", need)
		}
	}
	var rows []reportRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the credential report: %w", err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return known(rec[i])
			}
			return ""
		}
		row := reportRow{User: get("user"), ARN: get("arn")}
		for n := range row.Keys {
			p := fmt.Sprintf("access_key_%d_", n+1)
			k := &row.Keys[n]
			k.Active = get(p+"active") == "true"
			if t, ok := reportTime(get(p + "last_rotated")); ok && !t.IsZero() {
				k.Present, k.Rotated = true, t
			}
			if t, ok := reportTime(get(p + "last_used_date")); ok {
				k.LastUsed = &t
			}
			k.Region, k.Service = get(p+"last_used_region"), get(p+"last_used_service")
		}
		rows = append(rows, row)
	}
}

// known is "" for the report's words for no value.
func known(v string) string {
	switch v = strings.TrimSpace(v); v {
	case "N/A", "not_supported", "no_information":
		return ""
	}
	return v
}

func reportTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// slotOf finds the report slot of the user's key number i (oldest first),
// created at created: the one whose last_rotated time is that second, or
// slot i if both are.
func (r reportRow) slotOf(i int, created time.Time) (reportKey, bool) {
	var match []int
	for n, k := range r.Keys {
		if k.Present && k.Rotated.Truncate(time.Second).Equal(created.Truncate(time.Second)) {
			match = append(match, n)
		}
	}
	switch {
	case len(match) == 1:
		return r.Keys[match[0]], true
	case len(match) > 1 && i < len(r.Keys):
		return r.Keys[i], true
	}
	return reportKey{}, false
}
