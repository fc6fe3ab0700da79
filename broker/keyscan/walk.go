package keyscan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultMaxFileSize is the largest file Scan reads; larger ones are
// skipped (Result.Skipped says so).
const DefaultMaxFileSize = 4 << 20

// skipDirs are never walked into: version control and vendored code.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true}

// Options tune Scan.
type Options struct {
	// Exclude holds globs in .gitignore syntax, relative to each PATH
	// (see Scan); a match is skipped and cannot be re-included.
	Exclude     []string
	MaxFileSize int64 // 0: DefaultMaxFileSize
}

// Skip is a file Scan did not read, and why.
type Skip struct {
	Path   string
	Reason string
}

// Result is what Scan found.
type Result struct {
	Findings []Finding
	Files    int // files read
	Skipped  []Skip
}

// CheckGlob reports whether glob is a valid --exclude pattern.
func CheckGlob(glob string) error {
	r, ok := parseRule("", glob)
	if !ok {
		return fmt.Errorf("empty exclude pattern %q", glob)
	}
	for _, s := range r.segs {
		if _, err := path.Match(s, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", glob, err)
		}
	}
	return nil
}

// Scan looks for keys and secrets in root, a file or a folder. A file is
// read whatever its name. In a folder, Scan skips .git, node_modules and
// vendor folders, symlinks, binary files (a NUL byte in the first 8 KiB),
// files over MaxFileSize, and whatever the .gitignore files in the folder
// and its subfolders or opt.Exclude exclude. Supported .gitignore syntax:
// blank lines and # comments; globs with *, ? and [...] (path.Match); **
// as a whole segment (a/**/b, **/x, x/**); a trailing / for folders only;
// a / at the start or in the middle anchors the pattern to the
// .gitignore's folder, otherwise it matches a name at any depth; !pattern
// re-includes (not below an excluded folder, as in git). Not supported:
// backslash escapes, and .gitignore files above root, $GIT_DIR/info/exclude
// and core.excludesFile.
func Scan(root string, opt Options) (Result, error) {
	if opt.MaxFileSize <= 0 {
		opt.MaxFileSize = DefaultMaxFileSize
	}
	var res Result
	fi, err := os.Stat(root)
	if err != nil {
		return res, err
	}
	if !fi.IsDir() {
		res.scanFile(root, opt.MaxFileSize)
		return res, nil
	}
	var excludes []rule
	for _, g := range opt.Exclude {
		if err := CheckGlob(g); err != nil {
			return res, err
		}
		r, _ := parseRule("", g)
		excludes = append(excludes, r)
	}
	rules := map[string][]rule{} // by the slash path of their .gitignore's folder
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			res.Skipped = append(res.Skipped, Skip{p, "unreadable: " + errText(err)})
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel != "." {
			if d.IsDir() && skipDirs[d.Name()] || ignored(rules, excludes, rel, d.IsDir()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		switch {
		case d.IsDir():
			dir := rel
			if dir == "." {
				dir = ""
			}
			if r, err := readIgnore(filepath.Join(p, ".gitignore"), dir); err != nil {
				res.Skipped = append(res.Skipped, Skip{filepath.Join(p, ".gitignore"), "unreadable: " + errText(err)})
			} else if len(r) > 0 {
				rules[dir] = r
			}
		case d.Type().IsRegular():
			res.scanFile(p, opt.MaxFileSize)
		}
		return nil
	})
	return res, err
}

// errText is err without the path, which the Skip already names.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// scanFile reads one file, bounded, and adds what it holds.
func (res *Result) scanFile(p string, max int64) {
	f, err := os.Open(p)
	if err != nil {
		res.Skipped = append(res.Skipped, Skip{p, "unreadable: " + errText(err)})
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	switch {
	case err != nil:
		res.Skipped = append(res.Skipped, Skip{p, "unreadable: " + errText(err)})
		return
	case int64(len(data)) > max:
		res.Skipped = append(res.Skipped, Skip{p, fmt.Sprintf("larger than %d bytes", max)})
		return
	case bytes.IndexByte(data[:min(len(data), 8<<10)], 0) >= 0:
		return // binary
	}
	res.Files++
	res.Findings = append(res.Findings, Lines(p, data)...)
}

// rule is one .gitignore line or --exclude glob.
type rule struct {
	base     string   // slash path of its .gitignore's folder; "" for the root
	segs     []string // the pattern split at '/'
	anchored bool     // matched against the path from base, not just the name
	dirOnly  bool
	negate   bool
}

func parseRule(base, line string) (rule, bool) {
	line = strings.TrimRight(line, " \t\r")
	if line == "" || line[0] == '#' {
		return rule{}, false
	}
	r := rule{base: base}
	if line[0] == '!' {
		r.negate, line = true, line[1:]
	}
	if strings.HasSuffix(line, "/") {
		r.dirOnly, line = true, strings.TrimRight(line, "/")
	}
	if strings.Contains(line, "/") {
		r.anchored, line = true, strings.TrimLeft(line, "/")
	}
	if line == "" {
		return rule{}, false
	}
	r.segs = strings.Split(line, "/")
	return r, true
}

func (r rule) match(rel string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	if r.base != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(rel, r.base+"/"); !ok {
			return false
		}
	}
	parts := strings.Split(rel, "/")
	if !r.anchored {
		ok, _ := path.Match(r.segs[0], parts[len(parts)-1])
		return ok
	}
	return matchSegs(r.segs, parts)
}

func matchSegs(pat, parts []string) bool {
	if len(pat) == 0 {
		return len(parts) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(parts); i++ {
			if matchSegs(pat[1:], parts[i:]) {
				return true
			}
		}
		return false
	}
	if len(parts) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], parts[0])
	return ok && matchSegs(pat[1:], parts[1:])
}

// ignored applies the .gitignore rules of rel's folders, outermost first,
// the last match deciding; then the excludes, which nothing re-includes.
func ignored(rules map[string][]rule, excludes []rule, rel string, isDir bool) bool {
	out := false
	dirs := []string{""}
	for i := range len(rel) {
		if rel[i] == '/' {
			dirs = append(dirs, rel[:i])
		}
	}
	for _, d := range dirs {
		for _, r := range rules[d] {
			if r.match(rel, isDir) {
				out = !r.negate
			}
		}
	}
	for _, r := range excludes {
		if !r.negate && r.match(rel, isDir) {
			return true
		}
	}
	return out
}

// readIgnore reads the .gitignore at p; a missing one is no rules.
func readIgnore(p, base string) ([]rule, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rules []rule
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if r, ok := parseRule(base, sc.Text()); ok {
			rules = append(rules, r)
		}
	}
	return rules, sc.Err()
}
