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
	"runtime"
	"strings"
	"sync"
)

// DefaultPieceSize is how much of a file Scan reads at a time: a larger
// file is read in pieces of this size (see scanPieces), so memory stays
// bounded whatever the file's size.
const DefaultPieceSize = 4 << 20

// skipDirs are never walked into: version control and vendored code.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true}

// Options tune Scan.
type Options struct {
	// Exclude holds globs in .gitignore syntax, relative to each PATH
	// (see Scan); a match is skipped and cannot be re-included.
	Exclude   []string
	PieceSize int // 0: DefaultPieceSize
}

// Skip is a file Scan did not read, and why.
type Skip struct {
	Path   string
	Reason string
}

// Result is what Scan found.
type Result struct {
	Findings []Finding
	Files    int    // files read
	Skipped  []Skip // files not read, but binary files in a folder
	Binary   int    // binary files in a folder, not read (a NUL byte, not UTF-16)
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

// Scan looks for keys and secrets in root, a file or a folder; a symlink
// named as root is followed. A file is read whatever its name, whatever
// its size (in pieces: see Options.PieceSize); one that cannot be read is
// an error, and a binary one is listed in Skipped. In a folder, Scan skips
// .git, node_modules and vendor folders, symlinks (to files or folders:
// not followed, not listed), binary files (a NUL byte in the first 8 KiB,
// unless the file is UTF-16 text: counted in Result.Binary, not listed),
// and whatever opt.Exclude excludes; a file or folder it cannot read is
// listed in Skipped. A file that git ignores is read all the same: git
// still pushes it if it tracks it (committed before it was ignored), and
// one it does not track still holds the key on this disk
// (Finding.LocalOnly). Inside a git work tree (root's, or a folder below
// root holding .git) git says which files it tracks and ignores
// (`git ls-files`); elsewhere, or without git, the .gitignore files in the
// folder and its subfolders decide what is local only. Supported
// .gitignore syntax there: blank lines and # comments; globs with *, ?
// and [...] (path.Match); ** as a whole segment (a/**/b, **/x, x/**); a
// trailing / for folders only; a / at the start or in the middle anchors
// the pattern to the .gitignore's folder, otherwise it matches a name at
// any depth; !pattern re-includes (not below an excluded folder, as in
// git). Not supported: backslash escapes, and .gitignore files above
// root, $GIT_DIR/info/exclude and core.excludesFile.
func Scan(root string, opt Options) (Result, error) {
	if opt.PieceSize <= 0 {
		opt.PieceSize = DefaultPieceSize
	}
	var res Result
	fi, err := os.Stat(root)
	if err != nil {
		return res, err
	}
	if !fi.IsDir() {
		f := file{path: root}
		if r := gitRepo(filepath.Dir(root), filepath.Base(root)); r != nil {
			f.tracked, f.localOnly = r.status(filepath.Base(root))
		}
		s := scanFile(f, opt.PieceSize)
		if s.err != nil {
			return res, s.err
		}
		if s.binary {
			s.skip = &Skip{root, binaryReason}
		}
		res.add(s)
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
	files, err := walk(root, excludes, &res)
	if err != nil {
		return res, err
	}
	for _, s := range scanAll(files, opt.PieceSize) {
		if s.err != nil {
			s.skip = &Skip{s.path, "unreadable: " + errText(s.err)}
		}
		res.add(s)
	}
	return res, nil
}

// binaryReason is why a binary file named as root is not read.
const binaryReason = "binary: a NUL byte in its first 8 KiB, and not UTF-16 text"

// file is one file to read, with what git says of it.
type file struct {
	path               string
	tracked, localOnly bool
}

// walk lists the files to read under root, in lexical order.
func walk(root string, excludes []rule, res *Result) ([]file, error) {
	rules := map[string][]rule{} // by the slash path of their .gitignore's folder
	repos := map[string]*repo{}  // by the slash path of the folder git was asked about
	ignoredDirs := map[string]bool{}
	if r := gitRepo(root, ""); r != nil {
		repos[""] = r
	}
	// WalkDir does not follow a symlink given as its root (~/src -> /data/src):
	// with a trailing separator the system resolves it, as `ls link/` does.
	start := root
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		start = root + string(filepath.Separator)
	}
	var files []file
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start {
				return err
			}
			res.Skipped = append(res.Skipped, Skip{p, "unreadable: " + errText(err)})
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		} else if d.IsDir() && skipDirs[d.Name()] || excluded(excludes, rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			if rel != "" {
				ignoredDirs[rel] = ignoredDirs[parent(rel)] || ignored(rules, rel, true)
				if _, err := os.Lstat(filepath.Join(p, ".git")); err == nil {
					if r := gitRepo(p, ""); r != nil {
						repos[rel] = r
					}
				}
			}
			if r, err := readIgnore(filepath.Join(p, ".gitignore"), rel); err != nil {
				res.Skipped = append(res.Skipped, Skip{filepath.Join(p, ".gitignore"), "unreadable: " + errText(err)})
			} else if len(r) > 0 {
				rules[rel] = r
			}
		case d.Type().IsRegular():
			f := file{path: p}
			if r, sub := repoOf(repos, rel); r != nil {
				f.tracked, f.localOnly = r.status(sub)
			} else {
				f.localOnly = ignoredDirs[parent(rel)] || ignored(rules, rel, false)
			}
			files = append(files, f)
		}
		return nil
	})
	return files, err
}

// parent is the slash path of rel's folder, "" for the root.
func parent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// repoOf is the innermost repo holding rel, and rel relative to its folder.
func repoOf(repos map[string]*repo, rel string) (*repo, string) {
	for dir := path.Dir(rel); ; dir = path.Dir(dir) {
		if dir == "." {
			dir = ""
		}
		if r := repos[dir]; r != nil {
			if dir == "" {
				return r, rel
			}
			return r, rel[len(dir)+1:]
		}
		if dir == "" {
			return nil, ""
		}
	}
}

// scanned is what reading one file gave.
type scanned struct {
	path     string
	findings []Finding
	skip     *Skip
	read     bool
	binary   bool
	err      error // the file could not be read
}

func (res *Result) add(s scanned) {
	if s.read {
		res.Files++
	}
	if s.binary && s.skip == nil {
		res.Binary++
	}
	if s.skip != nil {
		res.Skipped = append(res.Skipped, *s.skip)
	}
	res.Findings = append(res.Findings, s.findings...)
}

// scanAll reads files on as many goroutines as there are CPUs; the
// results are in the files' order.
func scanAll(files []file, piece int) []scanned {
	out := make([]scanned, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = scanFile(files[i], piece)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// errText is err without the path, which the Skip already names.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// scanFile reads one file and says what it holds: whole when it is at
// most piece bytes, else in pieces (scanPieces).
func scanFile(f file, piece int) scanned {
	fh, err := os.Open(f.path)
	if err != nil {
		return scanned{path: f.path, err: err}
	}
	defer fh.Close()
	data, err := readBounded(fh, piece)
	if err != nil {
		return scanned{path: f.path, err: err}
	}
	enc, bom, ok := sniff(data)
	if !ok {
		return scanned{path: f.path, binary: true}
	}
	var found []Finding
	if len(data) <= piece {
		found = Lines(f.path, decodeText(data[bom:], enc))
	} else if found, err = scanPieces(f.path, io.MultiReader(bytes.NewReader(data[bom:]), fh), enc, piece); err != nil {
		return scanned{path: f.path, err: err}
	}
	for i := range found {
		found[i].Tracked, found[i].LocalOnly = f.tracked, f.localOnly
		if enc != "" {
			found[i].Reason += ", in a " + enc + " file"
		}
	}
	return scanned{path: f.path, findings: found, read: true}
}

// readBounded reads up to max+1 bytes of f (one more than max, to tell a
// larger file), in one buffer of its size.
func readBounded(f *os.File, max int) ([]byte, error) {
	size := 0
	if fi, err := f.Stat(); err == nil {
		size = int(min(fi.Size(), int64(max)))
	}
	buf := make([]byte, size+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	// Longer than it said (it grew, or a special file): read on, bounded.
	rest, err := io.ReadAll(io.LimitReader(f, int64(max+1-n)))
	return append(buf[:n], rest...), err
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
// the last match deciding.
func ignored(rules map[string][]rule, rel string, isDir bool) bool {
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
	return out
}

// excluded: an --exclude glob matches rel; nothing re-includes it.
func excluded(excludes []rule, rel string, isDir bool) bool {
	for _, r := range excludes {
		if !r.negate && r.match(rel, isDir) {
			return true
		}
	}
	return false
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
