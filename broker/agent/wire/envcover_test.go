package wire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The agent may only serve what the direct path would return now, so every
// environment variable any of broker's code reads must be covered by Key,
// or be listed here with the reason it cannot change the answer of
// `broker export`. TestKeyCoversEveryVariableBrokerReads finds the reads in
// the source, so a new os.Getenv (or b.getenv, or a helper passing a name
// on to one) that Key does not cover fails it.
//
// What is not scanned: test code, the test servers and benchmark programs
// (skippedDirs), and other modules. Of those broker links, the AWS SDK is
// given its region, endpoint and HTTP client explicitly (broker never loads
// the SDK's shared config), so of its environment only net/http's proxy
// variables remain, which only route a call to STS when minting; keyring
// and godbus find the keychain through DBUS_SESSION_BUS_ADDRESS,
// XDG_RUNTIME_DIR, PASSWORD_STORE_DIR, GNUPGHOME and HOME, which Key covers.
var notInKey = map[string]string{
	"BROKER_AGENT":                "whether the agent is asked, not what it answers",
	"BROKER_AGENT_IDLE":           "how long the agent lives, not what it answers",
	"AWS_ACCESS_KEY_ID":           "read by `broker add --env` only, which changes keys and renews the generation",
	"AWS_SECRET_ACCESS_KEY":       "read by `broker add --env` only, which changes keys and renews the generation",
	"AWS_SHARED_CREDENTIALS_FILE": "read by `broker audit` only",
	"AWS_VAULT":                   "exec refuses to run inside aws-vault's exec; no answer of export's depends on it",
	"PATH":                        "which program exec runs, not its credentials",
	"SHELL":                       "which shell exec runs, not its credentials",
	"COMSPEC":                     "which shell exec runs on Windows (no agent there)",
	"ComSpec":                     "which shell runs mfa_process on Windows (no agent there)",
	"DISPLAY":                     "where an MFA code is asked, when one is: the session minted is the same",
	"WAYLAND_DISPLAY":             "where an MFA code is asked, when one is: the session minted is the same",
	"XDG_CURRENT_DESKTOP":         "which dialog asks for an MFA code, when one is asked",
	"TMPDIR":                      "where the runtime folder is (locks, the agent's socket): another value reaches another agent",
	"XDG_CACHE_HOME":              "where the last-resort runtime folder is: another value reaches another agent",
}

// notInKeyPrefix are names built at run time from a prefix, not covered.
var notInKeyPrefix = map[string]string{}

// environSites are the functions that read the whole environment, and why
// that is not a read Key must cover.
var environSites = map[string]string{
	"cmd/broker:askAgent":                "the key itself (wire.Key): Covers picks the variables",
	"cmd/broker-credential-process:warm": "the key itself (wire.Key): Covers picks the variables",
	"cmd/broker-credential-process:main": "handed on unchanged to broker export, which reads it itself",
	"cmd/broker:newBroker":               "--debug's notes on aws-vault variables broker ignores",
	"cmd/broker:listCommand":             "`broker list`'s notes on aws-vault variables broker ignores",
	"cmd/broker:runServer":               "the environment of the command exec runs",
	"cmd/broker:execCommand":             "the environment of the command exec runs",
	"broker/keyscan:gitEnv":              "the environment of git, for `broker audit`",
}

// skippedDirs are not broker's: test servers and benchmark programs.
var skippedDirs = map[string]string{
	"internal/moto":       "runs moto for the tests",
	"internal/testbus":    "a private D-Bus for the tests",
	"internal/benchfloor": "the benchmark's floor programs",
	"scripts":             "the test and benchmark scripts",
}

// readers are the functions (by name) whose first argument names the
// variable read: os.Getenv, os.LookupEnv, broker's b.getenv, a getenv
// parameter. Helpers that pass a parameter on to one are found and added.
var readers = map[string]int{"Getenv": 0, "getenv": 0, "LookupEnv": 0}

// dirReaders are os functions that read variables of their own.
var dirReaders = map[string][]string{
	"UserConfigDir": {"XDG_CONFIG_HOME", "HOME"},
	"UserHomeDir":   {"HOME"},
	"UserCacheDir":  {"XDG_CACHE_HOME", "HOME"},
	"TempDir":       {"TMPDIR"},
}

type srcFile struct {
	rel, pkg string // path from the module's root, and its folder
	f        *ast.File
}

func TestKeyCoversEveryVariableBrokerReads(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module's root: %v", err)
	}
	fset := token.NewFileSet()
	var files []srcFile
	consts := map[string][]ast.Expr{} // package-level constants and variables, by name
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if _, skip := skippedDirs[rel]; skip || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, srcFile{rel: rel, pkg: filepath.ToSlash(filepath.Dir(rel)), f: f})
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok {
				for _, spec := range gd.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						for i, name := range vs.Names {
							if i < len(vs.Values) {
								consts[name.Name] = append(consts[name.Name], vs.Values[i])
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	type read struct {
		name   string
		prefix bool
		where  string
	}
	var reads []read
	var problems []string
	usedEnviron := map[string]bool{}
	fns := map[string]int{}
	for k, v := range readers {
		fns[k] = v
	}
	// A pass finds the reads; it repeats while it finds new helpers that
	// pass a parameter on to a reader.
	for pass := 0; ; pass++ {
		found := len(fns)
		reads, problems = nil, nil
		for _, sf := range files {
			for _, decl := range sf.f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					where := fset.Position(call.Pos()).String()
					name, pkg := callName(call)
					if pkg == "os" && name == "Environ" {
						site := sf.pkg + ":" + fn.Name.Name
						usedEnviron[site] = true
						if _, ok := environSites[site]; !ok {
							problems = append(problems, where+": os.Environ() in "+site+": list it in environSites with the reason, or read the variables one by one")
						}
						return true
					}
					if pkg == "os" {
						for _, v := range dirReaders[name] {
							reads = append(reads, read{v, false, where})
						}
					}
					idx, known := fns[name]
					if pkg == "os" {
						known = name == "Getenv" || name == "LookupEnv"
					}
					if !known {
						return true
					}
					if idx >= len(call.Args) {
						return true
					}
					vals, param, ok := resolve(call.Args[idx], fn, consts)
					if !ok {
						problems = append(problems, where+": "+name+"(…) with a name this test cannot tell: use a literal, a constant, or teach the test")
						return true
					}
					if param >= 0 {
						if _, known := fns[fn.Name.Name]; !known {
							fns[fn.Name.Name] = param
						}
					}
					for _, v := range vals {
						reads = append(reads, read{v.s, v.prefix, where})
					}
					return true
				})
			}
		}
		if len(fns) == found || pass > 10 {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}

	seen := map[string]bool{}
	usedExclusion := map[string]bool{}
	for _, r := range reads {
		seen[r.name] = true
		switch {
		case !r.prefix && Covers(r.name), r.prefix && CoversPrefix(r.name):
		case !r.prefix && notInKey[r.name] != "":
			usedExclusion[r.name] = true
		case r.prefix && notInKeyPrefix[r.name] != "":
			usedExclusion[r.name] = true
		default:
			what := r.name
			if r.prefix {
				what += "…"
			}
			t.Errorf("%s: broker reads %s, which the agent's key does not cover: add it to keyEnvExact in key.go (and bump keyVersion), or to notInKey here with the reason it cannot change what `broker export` answers", r.where, what)
		}
	}
	// The scan does find what broker is known to read, however it is read:
	// a literal, a constant, a variable set in two places, a prefix, a
	// helper's parameter, a parameter of func type.
	for _, want := range []string{"AWS_MFA_SERIAL", "AWS_ASSUME_ROLE_TTL", "AWS_SESSION_TOKEN_TTL",
		"AWS_CHAINED_SESSION_TOKEN_TTL", "AWS_ENDPOINT_URL_", "BROKER_BACKEND", "BROKER_AGENT",
		"DBUS_SESSION_BUS_ADDRESS", "XDG_CONFIG_HOME", "PASSWORD_STORE_DIR", "DISPLAY"} {
		if !seen[want] {
			t.Errorf("the scan did not find broker reading %s: it misses reads", want)
		}
	}
	for name := range notInKey {
		if !usedExclusion[name] {
			t.Errorf("notInKey lists %s, which broker no longer reads: remove it", name)
		}
	}
	for site := range environSites {
		if !usedEnviron[site] {
			t.Errorf("environSites lists %s, which no longer reads os.Environ(): remove it", site)
		}
	}
}

// callName is the called function's name, and the package or receiver
// it is selected from ("" for a plain identifier).
func callName(call *ast.CallExpr) (name, from string) {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name, ""
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return f.Sel.Name, x.Name
		}
		return f.Sel.Name, "?"
	}
	return "", "?"
}

type value struct {
	s      string
	prefix bool
}

// resolve says which variable names e can be: a string literal, a
// constant, "literal"+x (a prefix), a local variable assigned such values,
// a range over a literal list of them. param is the index of fn's
// parameter e is, else -1. ok false means it cannot tell.
func resolve(e ast.Expr, fn *ast.FuncDecl, consts map[string][]ast.Expr) (vals []value, param int, ok bool) {
	param = -1
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return nil, -1, false
		}
		s, err := strconv.Unquote(e.Value)
		return []value{{s: s}}, -1, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return nil, -1, false
		}
		left, _, ok := resolve(e.X, fn, consts)
		if !ok || len(left) == 0 {
			return nil, -1, false
		}
		for i := range left {
			left[i].prefix = true
		}
		return left, -1, true
	case *ast.SelectorExpr:
		return resolveConst(e.Sel.Name, fn, consts)
	case *ast.Ident:
		if e.Obj == nil {
			return resolveConst(e.Name, fn, consts)
		}
		switch decl := e.Obj.Decl.(type) {
		case *ast.Field:
			i := 0
			for _, field := range fn.Type.Params.List {
				for _, n := range field.Names {
					if n.Obj == e.Obj {
						return nil, i, true
					}
					i++
				}
			}
			return nil, -1, false
		case *ast.ValueSpec:
			if e.Obj.Kind == ast.Con || len(decl.Values) > 0 {
				for i, n := range decl.Names {
					if n.Obj == e.Obj && i < len(decl.Values) {
						v, _, ok := resolve(decl.Values[i], fn, consts)
						if !ok {
							return nil, -1, false
						}
						vals = append(vals, v...)
					}
				}
			}
			return assignedValues(e.Obj, fn, consts, vals)
		case *ast.AssignStmt:
			if rs, found, ok := rangeOf(fn, e.Obj, consts); found {
				return rs, -1, ok
			}
			return assignedValues(e.Obj, fn, consts, nil)
		}
	}
	return nil, -1, false
}

func resolveConst(name string, fn *ast.FuncDecl, consts map[string][]ast.Expr) ([]value, int, bool) {
	exprs := consts[name]
	if len(exprs) == 0 {
		return nil, -1, false
	}
	var vals []value
	for _, x := range exprs {
		v, _, ok := resolve(x, fn, consts)
		if !ok {
			return nil, -1, false
		}
		vals = append(vals, v...)
	}
	return vals, -1, true
}

// assignedValues adds every value assigned to obj in fn.
// It follows local variables syntactically, without type information:
// ast.Object is that, and enough here.
//
//lint:ignore SA1019 see above
func assignedValues(obj *ast.Object, fn *ast.FuncDecl, consts map[string][]ast.Expr, vals []value) ([]value, int, bool) {
	ok := true
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, isAssign := n.(*ast.AssignStmt)
		if !isAssign {
			return true
		}
		for i, lhs := range as.Lhs {
			id, isIdent := lhs.(*ast.Ident)
			if !isIdent || id.Obj != obj {
				continue
			}
			if len(as.Rhs) != len(as.Lhs) {
				ok = false
				continue
			}
			v, _, good := resolve(as.Rhs[i], fn, consts)
			if !good {
				ok = false
			}
			vals = append(vals, v...)
		}
		return true
	})
	return vals, -1, ok && len(vals) > 0
}

// rangeOf is the values obj takes as the value of a range over a literal
// list: for _, name := range []string{"A", "B"+x}.
// It follows local variables syntactically, without type information:
// ast.Object is that, and enough here.
//
//lint:ignore SA1019 see above
func rangeOf(fn *ast.FuncDecl, obj *ast.Object, consts map[string][]ast.Expr) (vals []value, found, ok bool) {
	ok = true
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		rs, isRange := n.(*ast.RangeStmt)
		if !isRange {
			return true
		}
		id, isIdent := rs.Value.(*ast.Ident)
		if !isIdent || id.Obj != obj {
			return true
		}
		found = true
		lit, isLit := rs.X.(*ast.CompositeLit)
		if !isLit {
			ok = false
			return true
		}
		for _, elt := range lit.Elts {
			v, _, good := resolve(elt, fn, consts)
			if !good {
				ok = false
			}
			vals = append(vals, v...)
		}
		return true
	})
	return vals, found, ok
}
