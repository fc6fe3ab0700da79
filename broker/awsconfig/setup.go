package awsconfig

import (
	"bytes"
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/broker-dev/broker/internal/atomicfile"
)

// roleKeys make the AWS CLI assume a role by itself and cache the result in
// plaintext under ~/.aws/cli/cache. Setup moves them to broker_-prefixed keys.
var roleKeys = []string{"role_arn", "source_profile", "external_id", "role_session_name", "duration_seconds"}

// ConflictError reports a credential_process that does not run broker.
// Existing is the command line, for the caller to show if it chooses; the
// message leaves it out in case it holds a secret.
type ConflictError struct{ Profile, Existing string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("profile %q already has a credential_process that does not run broker", e.Profile)
}

// Setup makes `aws --profile NAME` go through broker: in NAME's section it sets
//
//	credential_process = <quoted absolute broker path> export NAME
//
// or, when brokerPath is the credential_process client (ClientName),
//
//	credential_process = <quoted absolute client path> NAME
//
// and moves the keys that make the AWS CLI assume a role by itself (role_arn,
// source_profile, external_id, role_session_name, duration_seconds) to
// broker_-prefixed keys; where both exist, it keeps the broker_ one and drops
// the plain one. It creates the section at the end if missing ([default] for
// "default", else [profile NAME]).
//
// Every other byte of the file stays as it was. A second call returns
// changed=false and does not write the file. An existing credential_process
// that is not a broker line is refused with *ConflictError unless force.
//
// The file is edited as atomicfile.Edit does: under a lock, replaced
// atomically, keeping its mode, owner and group; a symlink is followed
// (its target created if missing), a file with hard links refused.
func Setup(path, name, brokerPath string, force bool) (changed bool, err error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	if !filepath.IsAbs(brokerPath) || strings.ContainsFunc(brokerPath, unicode.IsControl) {
		return false, fmt.Errorf("broker path %q is not a clean absolute path", brokerPath)
	}
	want := quoteArg(brokerPath, windowsArgs) + " export " + quoteArg(name, windowsArgs)
	if IsClient(filepath.Base(brokerPath)) {
		want = quoteArg(brokerPath, windowsArgs) + " " + quoteArg(name, windowsArgs)
	}
	return editFile(path, func(f *File) ([]edit, error) {
		return f.setupEdits(name, brokerPath, want, force)
	})
}

// Unsetup reverts Setup: it removes a credential_process that runs broker
// export and moves broker_-prefixed role keys back to their plain names
// (where both exist, the broker_ value is the one broker used, so it is
// kept). Other keys and the section itself stay. A missing file or profile
// is no change.
func Unsetup(path, name string) (changed bool, err error) {
	return editFile(path, func(f *File) ([]edit, error) {
		return f.unsetupEdits(name), nil
	})
}

// checkName refuses profile names that cannot be written in a section
// header and read back the same way by botocore, which splits the header
// with shlex.
func checkName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`[]'"\`, r)
	}) {
		return fmt.Errorf("invalid profile name %q", name)
	}
	return nil
}

// editableSection is the offset of the named profile's one section (none
// when it has none); a second section is an error, as in reading it.
func (f *File) editableSection(name string) ([]int, error) {
	r := reader{f: f}
	offs, _ := r.headers(name) // f is in memory: no error
	if len(offs) > 1 {
		return nil, r.duplicate(name, offs[0], offs[1])
	}
	return offs, nil
}

func (f *File) setupEdits(name, brokerPath, want string, force bool) ([]edit, error) {
	offs, err := f.editableSection(name)
	if err != nil {
		return nil, err
	}
	if len(offs) == 0 {
		return []edit{f.appendSection(name, "credential_process = "+want)}, nil
	}
	bodies, present := f.bodies(offs)
	var edits []edit
	var procs []keyLine
	for _, b := range bodies {
		for _, kl := range b.keys {
			switch {
			case kl.key == "credential_process":
				if !force && kl.value != "" && !isBrokerLine(kl.value, brokerPath, windowsArgs) {
					return nil, &ConflictError{Profile: name, Existing: kl.value}
				}
				procs = append(procs, kl)
			case slices.Contains(roleKeys, kl.key):
				if present["broker_"+kl.key] {
					edits = append(edits, removeLine(kl))
				} else {
					edits = append(edits, edit{kl.keyStart, kl.keyStart, "broker_"})
				}
			}
		}
	}
	if len(procs) == 0 {
		return append(edits, f.insertLine(bodies[len(bodies)-1].contentEnd, "credential_process = "+want)), nil
	}
	// The last one wins; drop the others.
	for _, kl := range procs[:len(procs)-1] {
		edits = append(edits, removeLine(kl))
	}
	if kl := procs[len(procs)-1]; kl.value != want {
		if kl.valStart < kl.valEnd {
			edits = append(edits, edit{kl.valStart, kl.valEnd, want})
		} else {
			// An empty value: replace the blanks after '=', keep a blank
			// before an inline comment, and drop nested lines, which a
			// key with a value cannot have.
			text := " " + want
			if kl.valStart < kl.lineEnd {
				text += " "
			}
			edits = append(edits, edit{kl.eq + 1, kl.valStart, text}, edit{kl.own, kl.next, ""})
		}
	}
	return edits, nil
}

func (f *File) unsetupEdits(name string) []edit {
	offs, _ := reader{f: f}.headers(name) // f is in memory: no error
	bodies, present := f.bodies(offs)
	var edits []edit
	for _, b := range bodies {
		for _, kl := range b.keys {
			plain, prefixed := strings.CutPrefix(kl.key, "broker_")
			switch {
			case kl.key == "credential_process" && isBrokerLine(kl.value, "", windowsArgs):
				edits = append(edits, removeLine(kl))
			case prefixed && slices.Contains(roleKeys, plain):
				edits = append(edits, edit{kl.keyStart, kl.keyStart + len("broker_"), ""})
			case slices.Contains(roleKeys, kl.key) && present["broker_"+kl.key]:
				edits = append(edits, removeLine(kl))
			}
		}
	}
	return edits
}

// bodies parses the sections at offs of a File parsed from memory, and
// returns them with the set of keys they hold.
func (f *File) bodies(offs []int) ([]body, map[string]bool) {
	bodies := make([]body, len(offs))
	present := make(map[string]bool)
	for i, off := range offs {
		bodies[i] = parseSection(f.data[off:], off, true)
		for _, kl := range bodies[i].keys {
			present[kl.key] = true
		}
	}
	return bodies, present
}

// edit replaces data[start:end] with text.
type edit struct {
	start, end int
	text       string
}

func removeLine(kl keyLine) edit { return edit{kl.start, kl.next, ""} }

// eol returns the file's line ending: that of its first line.
func (f *File) eol() string {
	if i := bytes.IndexByte(f.data, '\n'); i > 0 && f.data[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// insertLine inserts line at off, the start of a line or the end of the file.
func (f *File) insertLine(off int, line string) edit {
	if off > 0 && f.data[off-1] != '\n' {
		// The last line has no line ending; neither will the new one.
		return edit{off, off, f.eol() + line}
	}
	return edit{off, off, line + f.eol()}
}

// appendSection adds [profile NAME] with lines at the end of the file,
// after a blank line.
func (f *File) appendSection(name string, lines ...string) edit {
	eol, data := f.eol(), f.data
	var b strings.Builder
	if len(data) > 0 {
		if data[len(data)-1] != '\n' {
			b.WriteString(eol)
		}
		if !bytes.HasSuffix(data, []byte("\n\n")) && !bytes.HasSuffix(data, []byte("\n\r\n")) {
			b.WriteString(eol)
		}
	}
	if name == "default" {
		b.WriteString("[default]")
	} else {
		b.WriteString("[profile " + name + "]")
	}
	b.WriteString(eol)
	for _, l := range lines {
		b.WriteString(l + eol)
	}
	return edit{len(data), len(data), b.String()}
}

func applyEdits(data []byte, edits []edit) []byte {
	slices.SortStableFunc(edits, func(a, b edit) int { return cmp.Compare(a.start, b.start) })
	out := make([]byte, 0, len(data)+256)
	last := 0
	for _, e := range edits {
		out = append(out, data[last:e.start]...)
		out = append(out, e.text...)
		last = e.end
	}
	return append(out, data[last:]...)
}

// editFile applies to the file at path the edits that change returns, and
// writes the result if it differs, through atomicfile.Edit: under the
// file's lock, starting over if another program writes the file meanwhile.
func editFile(path string, change func(*File) ([]edit, error)) (bool, error) {
	// atomicfile's errors name the file already.
	return atomicfile.Edit(path, func(data []byte) ([]byte, error) {
		f, err := Parse(path, data)
		if err != nil {
			return nil, err
		}
		edits, err := change(f)
		if err != nil || len(edits) == 0 {
			return data, err
		}
		return applyEdits(f.data, edits), nil
	})
}
