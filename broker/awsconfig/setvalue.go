package awsconfig

import (
	"fmt"
	"strings"
	"unicode"
)

// SetValue sets key = value in profile name's section (creating the section
// at the end of the file if missing), leaving every other byte as it was.
// An existing key keeps its place and only its value changes. Setting the
// value it already has writes nothing.
func SetValue(path, name, key, value string) (changed bool, err error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	if key == "" || strings.ContainsFunc(key, func(r rune) bool { return !(r == '_' || unicode.IsLower(r) || unicode.IsDigit(r)) }) {
		return false, fmt.Errorf("invalid config key %q", key)
	}
	if value != strings.TrimSpace(value) || strings.ContainsFunc(value, unicode.IsControl) || strings.ContainsAny(value, "#;") {
		return false, fmt.Errorf("the value for %s must be one line without comment characters", key)
	}
	line := key + " = " + value
	return editFile(path, func(f *File) ([]edit, error) {
		offs, _ := reader{f: f}.headers(name) // f is in memory: no error
		if len(offs) == 0 {
			e := f.appendSection(name, "")
			e.text = strings.TrimSuffix(e.text, "credential_process = "+f.eol()) + line + f.eol()
			return []edit{e}, nil
		}
		bodies, _ := f.bodies(offs)
		var last *keyLine
		for i := range bodies {
			for j := range bodies[i].keys {
				if kl := &bodies[i].keys[j]; kl.key == key {
					last = kl
				}
			}
		}
		if last == nil {
			return []edit{f.insertLine(bodies[len(bodies)-1].contentEnd, line)}, nil
		}
		if last.value == value {
			return nil, nil
		}
		return []edit{{last.start, last.next, ""}, f.insertLine(last.next, line)}, nil
	})
}
