// Command timeit is scripts/bench.sh's timer where hyperfine is not
// installed: it runs a command (no shell in between, as hyperfine -N) a
// number of times after warm-up runs, and writes the wall times and the
// mean user and system CPU times as hyperfine's --export-json does, so the
// report reads either.
//
// Usage: timeit -warmup N -runs N -name NAME -json FILE [-prepare CMD] -- CMD ARGS...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

type result struct {
	Command string    `json:"command"`
	Times   []float64 `json:"times"` // seconds
	User    float64   `json:"user"`  // mean, seconds
	System  float64   `json:"system"`
}

func main() {
	warmup := flag.Int("warmup", 3, "runs before timing")
	runs := flag.Int("runs", 10, "timed runs")
	name := flag.String("name", "", "the command's name in the JSON")
	out := flag.String("json", "", "the JSON file to write")
	prepare := flag.String("prepare", "", "a command (split on spaces) run before each run, untimed")
	flag.Parse()
	argv := flag.Args()
	if len(argv) == 0 || *out == "" || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: timeit -warmup N -runs N -name NAME -json FILE [-prepare CMD] -- CMD ARGS...")
		os.Exit(2)
	}
	r := result{Command: *name}
	for i := 0; i < *warmup+*runs; i++ {
		if *prepare != "" {
			p := strings.Fields(*prepare)
			if err := exec.Command(p[0], p[1:]...).Run(); err != nil {
				fail("prepare: %v", err)
			}
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fail("%s: %v", strings.Join(argv, " "), err)
		}
		wall := time.Since(start)
		if i < *warmup {
			continue
		}
		r.Times = append(r.Times, wall.Seconds())
		r.User += cmd.ProcessState.UserTime().Seconds()
		r.System += cmd.ProcessState.SystemTime().Seconds()
	}
	r.User /= float64(*runs)
	r.System /= float64(*runs)
	b, err := json.Marshal(map[string][]result{"results": {r}})
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "timeit: "+format+"\n", args...)
	os.Exit(1)
}
