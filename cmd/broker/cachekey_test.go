//go:build linux

package main

import (
	"fmt"
	"testing"
	"time"
)

// TestCacheKeyEndpoint: the reviewer's reproduction. A session cached from
// moto is not served when STS is another endpoint (with the agent off or
// on), nor for the China partition; another region of the partition is
// served the cached session without a new code.
func TestCacheKeyEndpoint(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("endpoint")
	w.writeConfig(fmt.Sprintf("[profile dev]\nregion = eu-west-1\nmfa_serial = %s\nmfa_process = %s\n", u.serial, w.mfaProcess("123456")))
	w.addKey("dev", u)
	export := func(env ...string) exported {
		t.Helper()
		r := w.cmd(env, brokerBin, "export", "dev")
		if r.code != 0 {
			t.Fatalf("export dev %v: exit %d: %s", env, r.code, r.stderr)
		}
		return decodeExport(t, r.stdout)
	}
	moto := export("BROKER_AGENT=off")

	fake := newFakeSTS(t)
	fake.answer("GetSessionToken", goodCreds(8*time.Hour))
	for _, agent := range []string{"BROKER_AGENT=off", "BROKER_AGENT=on"} {
		got := export(append(fake.env(), agent)...)
		if got.AccessKeyID == moto.AccessKeyID {
			t.Errorf("%s: AWS_ENDPOINT_URL_STS=%s served moto's cached session", agent, fake.srv.URL)
		}
	}
	if n := fake.count("GetSessionToken"); n != 1 {
		t.Errorf("the other endpoint got %d GetSessionToken calls, want 1 (then its own session from the cache)", n)
	}

	// moto's session key IDs may repeat: its calls tell what was minted.
	export("BROKER_AGENT=off", "AWS_REGION=cn-north-1")
	if n := len(w.calls("GetSessionToken")); n != 2 {
		t.Errorf("moto got %d GetSessionToken calls, want 2 (aws, aws-cn)", n)
	}
	for _, env := range [][]string{{"BROKER_AGENT=off", "AWS_REGION=us-west-2"}, {"AWS_REGION=us-west-2"}, nil} {
		if got := export(env...); got.SessionToken != moto.SessionToken {
			t.Errorf("export dev %v: another session than the one cached for the partition", env)
		}
	}
	if n, a := len(w.calls("GetSessionToken")), w.mfaAsks(); n != 2 || a != 3 {
		t.Errorf("%d GetSessionToken calls to moto and %d MFA codes; want 2 and 3 (moto, the other endpoint, aws-cn)", n, a)
	}
}
