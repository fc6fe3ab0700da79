package awsconfig

import (
	"fmt"
	"strings"
	"unicode"
)

// CheckValue says whether key = value can be written as one config line
// that botocore and broker read back the same.
func CheckValue(key, value string) error {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool { return !(r == '_' || unicode.IsLower(r) || unicode.IsDigit(r)) }) {
		return fmt.Errorf("invalid config key %q", key)
	}
	if value != strings.TrimSpace(value) || strings.ContainsFunc(value, unicode.IsControl) || strings.ContainsAny(value, "#;") {
		return fmt.Errorf("the value for %s must be one line without comment characters", key)
	}
	return nil
}

// SetValue sets key = value in profile name's section (creating the section
// at the end of the file if missing), leaving every other byte as it was.
// An existing key keeps its place and only its value changes. Setting the
// value it already has writes nothing.
func SetValue(path, name, key, value string) (changed bool, err error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	if err := CheckValue(key, value); err != nil {
		return false, err
	}
	line := key + " = " + value
	return editFile(path, func(f *File) ([]edit, error) {
		offs, err := f.editableSection(name)
		if err != nil {
			return nil, err
		}
		if len(offs) == 0 {
			return []edit{f.appendSection(name, line)}, nil
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

// Value is one key = value of a profile.
type Value struct{ Key, Value string }

// Existing is what a profile's own sections held for a key AddValues was
// given: Value is that value, or "" with Had false.
type Existing struct {
	Key, Value string
	Had        bool
}

// AddValues writes each of values into profile name's section (creating
// it at the end of the file if missing) where the profile's own sections
// do not set that key yet; a key they set, to the same value or another,
// is left as it is. It returns, for each of values in order, what the
// profile held before. Every other byte of the file stays.
func AddValues(path, name string, values []Value) ([]Existing, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	for _, v := range values {
		if err := CheckValue(v.Key, v.Value); err != nil {
			return nil, err
		}
	}
	var had []Existing
	_, err := editFile(path, func(f *File) ([]edit, error) {
		r := reader{f: f}
		layer, _ := r.layer(name) // f is in memory: no error
		if layer == nil {
			layer = map[string]keyLine{}
		}
		had = had[:0]
		var lines []string
		for _, v := range values {
			kl, ok := layer[v.Key]
			had = append(had, Existing{Key: v.Key, Value: kl.value, Had: ok})
			if !ok {
				lines = append(lines, v.Key+" = "+v.Value)
				layer[v.Key] = keyLine{value: v.Value} // a key given twice goes in once
			}
		}
		if len(lines) == 0 {
			return nil, nil
		}
		offs, _ := r.headers(name)
		if len(offs) == 0 {
			return []edit{f.appendSection(name, lines...)}, nil
		}
		bodies, _ := f.bodies(offs)
		var edits []edit
		for _, l := range lines {
			edits = append(edits, f.insertLine(bodies[len(bodies)-1].contentEnd, l))
		}
		return edits, nil
	})
	if err != nil {
		return nil, err
	}
	return had, nil
}
