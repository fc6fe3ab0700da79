package lifecycle

import (
	"strings"
	"testing"
	"time"
)

const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
	"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
	"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"

func TestParseReport(t *testing.T) {
	t.Parallel()
	text := reportHeader +
		"<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2024-05-01T10:00:00+00:00,not_supported,not_supported,true," +
		"true,2021-03-04T05:06:07+00:00,2024-06-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
		"bob,arn:aws:iam::123456789012:user/bob,2022-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false," +
		"true,2023-01-02T03:04:05+00:00,N/A,N/A,N/A,false,2023-02-02T03:04:05+00:00,2023-03-01T00:00:00+00:00,not_supported,not_supported,false,N/A,false,N/A\n"
	rows, err := parseReport([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].User != RootUser || rows[1].User != "bob" {
		t.Fatalf("rows %+v", rows)
	}
	root := rows[0].Keys
	if !root[0].Present || !root[0].Active || root[0].Service != "s3" || root[0].Region != "us-east-1" ||
		root[0].LastUsed == nil || !root[0].Rotated.Equal(time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)) || root[1].Present {
		t.Errorf("root's keys %+v", root)
	}
	bob := rows[1].Keys
	if !bob[0].Present || bob[0].LastUsed != nil || bob[0].Service != "" || !bob[1].Present || bob[1].Active ||
		bob[1].LastUsed == nil || bob[1].Service != "" || bob[1].Region != "" {
		t.Errorf("bob's keys %+v", bob)
	}
	if k, ok := rows[1].slotOf(1, time.Date(2023, 2, 2, 3, 4, 5, 999, time.UTC)); !ok || k.Active {
		t.Errorf("slotOf the second key: %+v, %v", k, ok)
	}
	if _, ok := rows[1].slotOf(0, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("slotOf a key made after the report found a slot")
	}
	for _, bad := range []string{"", "user,arn\nbob,x\n", reportHeader + "bob,\"unterminated\n"} {
		if _, err := parseReport([]byte(bad)); err == nil {
			t.Errorf("parseReport(%q) succeeded", bad)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add([]byte(reportHeader + "bob,arn,x,false,N/A,N/A,N/A,false,true,2023-01-02T03:04:05+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"))
	f.Add([]byte(reportHeader))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseReport(data)
		if err != nil {
			return
		}
		for _, r := range rows {
			for _, k := range r.Keys {
				if k.Present && k.Rotated.IsZero() || strings.ContainsAny(k.Service, "\n") {
					t.Fatalf("bad slot %+v", k)
				}
			}
		}
	})
}
