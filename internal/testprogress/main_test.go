package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The stream of `go test -json` for one package with a passing test, a
// failing one with a failing subtest, and a passing one whose output must
// not be shown.
const stream = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestGood"}
{"Action":"output","Package":"example.com/a","Test":"TestGood","Output":"=== RUN   TestGood\n"}
{"Action":"output","Package":"example.com/a","Test":"TestGood","Output":"    moto log: 127.0.0.1 - - POST / 200\n"}
{"Action":"output","Package":"example.com/a","Test":"TestGood","Output":"--- PASS: TestGood (1.50s)\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestGood","Elapsed":1.5}
{"Action":"run","Package":"example.com/a","Test":"TestBad"}
{"Action":"output","Package":"example.com/a","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"run","Package":"example.com/a","Test":"TestBad/case"}
{"Action":"output","Package":"example.com/a","Test":"TestBad/case","Output":"    bad_test.go:9: want 1, got 2\n"}
{"Action":"output","Package":"example.com/a","Test":"TestBad/case","Output":"    --- FAIL: TestBad/case (0.00s)\n"}
{"Action":"fail","Package":"example.com/a","Test":"TestBad/case","Elapsed":0}
{"Action":"output","Package":"example.com/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.20s)\n"}
{"Action":"fail","Package":"example.com/a","Test":"TestBad","Elapsed":0.2}
{"Action":"output","Package":"example.com/a","Output":"FAIL\n"}
{"Action":"output","Package":"example.com/a","Output":"FAIL\texample.com/a\t1.734s\n"}
{"Action":"fail","Package":"example.com/a","Elapsed":1.734}
{"Action":"start","Package":"example.com/b"}
{"Action":"output","Package":"example.com/b","Output":"ok  \texample.com/b\t0.010s\n"}
{"Action":"pass","Package":"example.com/b","Elapsed":0.01}
`

func TestPrinter(t *testing.T) {
	var out strings.Builder
	c := &clock{t: time.Unix(0, 0)}
	p := newPrinter(&out, c.now)
	p.trim = "example.com/"
	if err := p.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	want := "== example.com/a  [0m00s]\n" +
		"   PASS a TestGood (1.5s)\n" +
		"=== RUN   TestBad\n    bad_test.go:9: want 1, got 2\n    --- FAIL: TestBad/case (0.00s)\n--- FAIL: TestBad (0.20s)\n" +
		"FAIL\nFAIL\texample.com/a\t1.734s\n" +
		"== example.com/b  [0m00s]\n" +
		"ok  \texample.com/b\t0.010s\n"
	if got := out.String(); got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
	if !p.failed {
		t.Error("a failed package did not count as a failure")
	}
}

func TestHeartbeat(t *testing.T) {
	var out strings.Builder
	c := &clock{t: time.Unix(0, 0)}
	p := newPrinter(&out, c.now)
	c.add(10 * time.Second)
	p.heartbeat()
	if out.Len() != 0 {
		t.Fatalf("heartbeat after 10 s: %q", out.String())
	}
	c.add(25 * time.Second)
	p.heartbeat()
	if got := out.String(); got != "   ... building  [0m35s]\n" {
		t.Errorf("heartbeat while building: %q", got)
	}
	out.Reset()
	p.handle(event{Action: "start", Package: "example.com/slow"})
	c.add(31 * time.Second)
	p.heartbeat()
	if got := out.String(); !strings.HasSuffix(got, "   ... still running example.com/slow  [1m06s]\n") {
		t.Errorf("heartbeat while a package runs: %q", got)
	}
	if p.failed {
		t.Error("failed with nothing failing")
	}
}
