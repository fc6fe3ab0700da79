// Command testprogress shows `go test -json` as it goes: a line when a
// package starts, one per top-level test as it ends, the whole output of a
// failed test, and go test's own closing lines (`ok`, `FAIL`, `PASS`)
// unchanged, so what reads them still can. While nothing ends for a while
// (a cold build, a slow integration test) it says what is still running.
//
//	go test -json ./... | go run ./internal/testprogress [-trim PREFIX]
//
// Test lines name their package, without PREFIX (the module path and a
// slash, say), since the packages run side by side.
//
// It exits 1 if any test or package failed, or if its input was not
// go test's.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Elapsed    float64
	Output     string
}

// quiet is how long nothing may be printed before a "still running" line.
const quiet = 30 * time.Second

func main() {
	trim := flag.String("trim", "", "leave `PREFIX` out of package names on test lines")
	flag.Parse()
	p := newPrinter(os.Stdout, time.Now)
	p.trim = *trim
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.heartbeat()
			case <-stop:
				return
			}
		}
	}()
	err := p.read(os.Stdin)
	close(stop)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(1)
	}
	if p.failed {
		os.Exit(1)
	}
}

type printer struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	start   time.Time
	last    time.Time           // when something was last printed
	running map[string]bool     // packages started and not ended
	output  map[string][]string // test output kept until it is known to have failed
	failed  bool
	trim    string
}

func newPrinter(w io.Writer, now func() time.Time) *printer {
	t := now()
	return &printer{w: w, now: now, start: t, last: t, running: map[string]bool{}, output: map[string][]string{}}
}

func (p *printer) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event: go vet and the linker print plain text.
			p.print(string(line) + "\n")
			continue
		}
		p.handle(e)
	}
	return sc.Err()
}

func (p *printer) handle(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Output is kept per top-level test, subtests' with it, in order.
	top, _, _ := strings.Cut(e.Test, "/")
	key := e.Package + " " + top
	sub := top != e.Test
	switch {
	case e.Action == "build-output":
		p.printLocked(e.Output)
	case e.Action == "build-fail":
		p.failed = true
	case e.Test == "" && e.Action == "start":
		p.running[e.Package] = true
		p.printLocked(fmt.Sprintf("== %s  [%s]\n", e.Package, p.elapsed()))
	case e.Test == "" && e.Action == "output":
		// The package's own lines: ok, FAIL, PASS, coverage, a panic
		// outside any test, TestMain's messages.
		if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "--- ") {
			p.printLocked(e.Output)
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		delete(p.running, e.Package)
		if e.Action == "fail" {
			p.failed = true
		}
	case e.Action == "output":
		p.output[key] = append(p.output[key], e.Output)
	case sub:
	case e.Action == "pass" || e.Action == "skip":
		p.printLocked(fmt.Sprintf("   %s %s %s (%.1fs)\n", strings.ToUpper(e.Action), strings.TrimPrefix(e.Package, p.trim), e.Test, e.Elapsed))
		delete(p.output, key)
	case e.Action == "fail":
		p.failed = true
		p.printLocked(strings.Join(p.output[key], ""))
		delete(p.output, key)
	}
}

// heartbeat says what is still running after a quiet spell.
func (p *printer) heartbeat() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.now().Sub(p.last) < quiet {
		return
	}
	what := "building"
	if len(p.running) > 0 {
		pkgs := make([]string, 0, len(p.running))
		for pkg := range p.running {
			pkgs = append(pkgs, pkg)
		}
		slices.Sort(pkgs)
		what = "still running " + strings.Join(pkgs, ", ")
	}
	p.printLocked(fmt.Sprintf("   ... %s  [%s]\n", what, p.elapsed()))
}

func (p *printer) print(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printLocked(s)
}

func (p *printer) printLocked(s string) {
	if s == "" {
		return
	}
	io.WriteString(p.w, s)
	p.last = p.now()
}

func (p *printer) elapsed() string {
	d := p.now().Sub(p.start).Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
