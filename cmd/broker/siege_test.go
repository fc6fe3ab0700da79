//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// siegeChildVar makes the test binary the child of `broker exec --server`
// in TestExecServerSiege: it lays siege to the endpoint the way another
// local process without the token could, and checks that its own SDK is
// still served.
const siegeChildVar = "BROKER_TEST_SIEGE_CHILD"

func init() {
	if os.Getenv(siegeChildVar) == "1" {
		os.Exit(siegeChild())
	}
}

const (
	siegeConns = 3000
	// sdkTimeout bounds the SDK's one attempt to get credentials.
	sdkTimeout = 2 * time.Second
	// closeBound: every idle connection must have been closed by then.
	closeBound = 60 * time.Second
	// slowBound: a request trickling in at 1 byte/s is dropped by then.
	slowBound = 30 * time.Second
)

type siegeReport struct {
	Opened, DialErrors int
	SDKKey, SDKError   string
	BrokerFDs          int
	BrokerRSSKiB       int
	StillOpen          int           // connections still open after closeBound
	SlowHeader         time.Duration // how long a header sent at 1 byte/s was held (0: past slowBound)
	SlowBody           time.Duration
}

func siegeChild() int {
	u, err := url.Parse(os.Getenv(containerURIVar))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	raiseFileLimit(siegeConns + 256)
	var r siegeReport
	conns := openSiege(u, &r)

	// The command's own SDK, with the siege in place: one attempt, bounded.
	ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEndpointCredentialOptions(func(o *endpointcreds.Options) {
		o.HTTPClient = &http.Client{Timeout: sdkTimeout}
		o.Retryer = aws.NopRetryer{}
	}))
	if err == nil {
		var creds aws.Credentials
		if creds, err = cfg.Credentials.Retrieve(ctx); err == nil {
			r.SDKKey = creds.AccessKeyID
		}
	}
	if err != nil {
		r.SDKError = err.Error()
	}
	cancel()

	// What the siege costs broker (its parent), while it lasts.
	r.BrokerFDs, r.BrokerRSSKiB = procUsage(os.Getppid())

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.SlowHeader = trickle(u, "", "GET "+u.Path+" HTTP/1.1\r\nHost: "+u.Host+"\r\nX-Slow: "+strings.Repeat("a", 200))
	}()
	go func() {
		defer wg.Done()
		r.SlowBody = trickle(u, "POST "+u.Path+" HTTP/1.1\r\nHost: "+u.Host+"\r\nContent-Length: 200\r\n\r\n", strings.Repeat("b", 200))
	}()
	r.StillOpen = waitClosed(conns)
	wg.Wait()
	_ = json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// raiseFileLimit makes room for n open files: Go already raises the soft
// limit to the hard one; root may raise the hard one too.
func raiseFileLimit(n uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= n {
		return
	}
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// openSiege opens siegeConns connections without the token: half send
// nothing, half send one token-less request, read the refusal and stay.
func openSiege(u *url.URL, r *siegeReport) []net.Conn {
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
				mu.Lock()
				if err != nil {
					r.DialErrors++
					mu.Unlock()
					continue
				}
				r.Opened++
				conns = append(conns, c)
				mu.Unlock()
				if i%2 == 1 {
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.Path, u.Host)
					if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
						resp.Body.Close()
					}
					_ = c.SetDeadline(time.Time{})
				}
			}
		}()
	}
	for i := 0; i < siegeConns; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return conns
}

// waitClosed waits until the server has closed each connection, at most
// closeBound, and returns how many it left open.
func waitClosed(conns []net.Conn) int {
	deadline := time.Now().Add(closeBound)
	var open sync.WaitGroup
	var mu sync.Mutex
	still := 0
	for _, c := range conns {
		open.Add(1)
		go func() {
			defer open.Done()
			defer c.Close()
			_ = c.SetReadDeadline(deadline)
			buf := make([]byte, 512)
			for {
				_, err := c.Read(buf)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					mu.Lock()
					still++
					mu.Unlock()
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	open.Wait()
	return still
}

// trickle sends head at once and then slow at 1 byte/s, and returns how
// long the server kept the connection, or 0 if it was still open after
// slowBound.
func trickle(u *url.URL, head, slow string) time.Duration {
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return 0
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte(head)); err != nil {
		return time.Since(start)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SetReadDeadline(start.Add(slowBound))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; i < len(slow); i++ {
		select {
		case <-done:
			i = len(slow)
		case <-tick.C:
			_, _ = c.Write([]byte{slow[i]})
		}
	}
	<-done
	if took := time.Since(start); took < slowBound {
		return took
	}
	return 0 // the read deadline ended it, not the server
}

// procUsage is the number of open file descriptors and the resident memory
// of process pid.
func procUsage(pid int) (fds, rssKiB int) {
	if entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		fds = len(entries)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return fds, rssKiB
}

// TestExecServerSiege: another local process without the token opens 3,000
// connections to the endpoint of `broker exec --server` (half silent, half
// after a refused request) and trickles requests in at 1 byte/s. The
// command's SDK is still served in one attempt within 2 s, broker holds a
// bounded number of connections and little memory, every idle connection
// is closed within 60 s, and the trickles are dropped within 30 s.
func TestExecServerSiege(t *testing.T) {
	w, _ := serverWorld(t)
	session := decodeExport(t, w.mustBroker("export", "dev"))
	test, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := w.cmd([]string{siegeChildVar + "=1"}, brokerBin, "exec", "--server", "dev", "--", test)
	if r.code != 0 {
		t.Fatalf("exec --server with the siege child: exit %d; stderr: %s", r.code, r.stderr)
	}
	var got siegeReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("the child printed no report (%v): %q", err, r.stdout)
	}
	t.Logf("siege: %+v", got)
	if got.Opened < siegeConns*9/10 {
		t.Fatalf("only %d of %d connections opened (%d dial errors)", got.Opened, siegeConns, got.DialErrors)
	}
	if got.SDKKey != session.AccessKeyID {
		t.Errorf("the SDK was not served within %v during the siege: key %q, error %q", sdkTimeout, got.SDKKey, got.SDKError)
	}
	if got.BrokerFDs == 0 || got.BrokerFDs > 200 {
		t.Errorf("broker had %d file descriptors open during the siege, want a bounded number (≤ 200)", got.BrokerFDs)
	}
	if got.BrokerRSSKiB == 0 || got.BrokerRSSKiB > 32<<10 {
		t.Errorf("broker's resident memory was %d KiB during the siege, want ≤ 32 MiB", got.BrokerRSSKiB)
	}
	if got.StillOpen != 0 {
		t.Errorf("%d connections were still open %v after the siege", got.StillOpen, closeBound)
	}
	if got.SlowHeader == 0 || got.SlowBody == 0 {
		t.Errorf("a request sent at 1 byte/s was held for more than %v (header %v, body %v)", slowBound, got.SlowHeader, got.SlowBody)
	}
}
