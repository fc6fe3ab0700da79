package keyscan

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"time"
)

// repo is what git says of the files under one folder of a work tree.
type repo struct {
	tracked map[string]bool // slash paths relative to the folder
	ignored map[string]bool // untracked and ignored: files, and folders git lists whole
}

var gitPath = sync.OnceValues(func() (string, error) { return exec.LookPath("git") })

// gitRepo asks git which files under dir it tracks and which it ignores
// (only spec, a name in dir, when not ""). It is nil when dir is in no
// git work tree, git is missing or git refuses (a repository of another
// user). git only lists: core.fsmonitor, the one setting with which a
// listing could run a program the repository names, is turned off, and
// spec is a name, not a pattern.
func gitRepo(dir, spec string) *repo {
	git, err := gitPath()
	if err != nil {
		return nil
	}
	list := func(args ...string) ([]string, bool) {
		args = append([]string{"--literal-pathspecs", "-c", "core.fsmonitor=false", "-C", dir, "ls-files", "-z"}, args...)
		if spec != "" {
			args = append(args, "--", spec)
		}
		ctx, cancel := context.WithTimeout(context.Background(), gitTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, git, args...)
		cmd.Env = gitEnv()
		out, err := cmd.Output()
		if err != nil {
			return nil, false
		}
		names := strings.Split(string(bytes.TrimSuffix(out, []byte{0})), "\x00")
		if len(out) == 0 {
			names = nil
		}
		return names, true
	}
	tracked, ok := list("--cached")
	if !ok {
		return nil
	}
	ignored, ok := list("--others", "--ignored", "--exclude-standard", "--directory")
	if !ok {
		return nil
	}
	r := &repo{tracked: make(map[string]bool, len(tracked)), ignored: make(map[string]bool, len(ignored))}
	for _, n := range tracked {
		r.tracked[n] = true
	}
	for _, n := range ignored {
		r.ignored[strings.TrimSuffix(n, "/")] = true
	}
	return r
}

// gitTimeout bounds one listing: a hung file system must not hang the
// audit (the folder is then scanned as if it were in no repository).
const gitTimeout = time.Minute

// gitEnv is the environment without the variables that point git at one
// repository whatever folder it is asked about.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_NAMESPACE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// status says whether git tracks rel, a slash path relative to the
// repo's folder, and whether it ignores it (untracked, in an ignored
// folder or matching an ignore rule).
func (r *repo) status(rel string) (tracked, ignored bool) {
	if r.tracked[rel] {
		return true, false
	}
	for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if r.ignored[p] {
			return false, true
		}
	}
	return false, false
}
