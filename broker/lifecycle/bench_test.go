package lifecycle

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/broker-dev/broker/broker"
)

// BenchmarkAccountKeys lists the keys of an account of 1,000 IAM users
// (BROKER_BENCH_USERS), one key each, every tenth used by another program,
// in moto: with the credential report, and without it (every key's last
// use asked for one by one: the floor the report improves on). It reports
// the IAM calls of one listing.
//
//	go test -run XXX -bench AccountKeys -benchtime 3x ./broker/lifecycle/
func BenchmarkAccountKeys(b *testing.B) {
	users := 1000
	if v, err := strconv.Atoi(os.Getenv("BROKER_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	w := newKeyWorld(b, "")
	for i := range users - 1 {
		id, secret := w.aws.NewUserKey(b, fmt.Sprintf("user%04d", i))
		if i%10 == 0 {
			useKey(b, w.aws, id, secret, "iam", "us-east-1")
		}
	}
	l, err := w.b.Open(b.Context(), "dev")
	if err != nil {
		b.Fatal(err)
	}
	_, _, creds, err := w.b.MFASession(b.Context(), "dev") // cached: what l signs with
	if err != nil {
		b.Fatal(err)
	}
	real := w.b.IAM
	for _, c := range []struct {
		name string
		iam  func(broker.Creds) iamAPI
	}{
		{"report", real},
		{"per-key", func(c broker.Creds) iamAPI { return refusingIAM{real(c)} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			l.iam = c.iam(creds)
			before := len(w.aws.Requests(b))
			b.ResetTimer()
			for b.Loop() {
				list, err := l.Account(b.Context(), 90, 90)
				if err != nil || len(list.Keys) != users {
					b.Fatalf("%d keys, %v", len(list.Keys), err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(w.aws.Requests(b))-before)/float64(b.N), "calls/op")
		})
	}
}
