package awsconfig

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// ServiceEndpoint returns the endpoint_url set for service (its identifier
// in the SDKs' service-specific endpoints: "sts", "iam") in the
// [services NAME] section, or "" if it sets none:
//
//	[services local]
//	sts =
//	  endpoint_url = http://127.0.0.1:5000
//
// Duplicate sections merge and a later value wins, as for profiles. Only
// profiles that name a services section pay for reading it: the file is
// scanned here, not indexed by Load.
func (f *File) ServiceEndpoint(name, service string) (string, error) {
	if name == "" {
		return "", nil
	}
	r, err := f.open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	data := r.f.data
	if r.fh != nil {
		if data, err = io.ReadAll(io.NewSectionReader(r.fh, 0, r.f.info.Size())); err != nil {
			return "", fmt.Errorf("reading config: %w", err)
		}
	}
	var (
		st      lineState
		inside  bool   // in a [services NAME] section
		block   string // the key whose nested lines follow, lowercased
		url     string
		lineNum int
	)
	for off := 0; off < len(data); {
		end, next := nextLine(data, off)
		line := data[off:end]
		lineNum++
		switch kind, ind, eq := st.classify(line); kind {
		case lineHeader:
			inside, block = servicesName(line[ind:]) == name, ""
		case lineKey:
			if inside {
				block = strings.ToLower(string(trimSpace(line[ind:eq])))
			}
		case lineCont:
			if !inside || block != service {
				break
			}
			e := bytes.IndexAny(line, "=:")
			if e < 0 {
				return "", &SyntaxError{Path: f.path, Line: lineNum, Msg: "nested line under " + service + " is not key = value"}
			}
			if strings.EqualFold(string(trimSpace(line[ind:e])), "endpoint_url") {
				vs, ve := valueSpan(line, e)
				url = string(line[vs:ve])
			}
		}
		off = next
	}
	return url, nil
}

// servicesName returns NAME from a "[services NAME]" header, else "".
func servicesName(header []byte) string {
	closing := bytes.IndexByte(header, ']')
	if closing < 0 {
		return ""
	}
	inner := trimSpace(header[1:closing])
	rest, ok := bytes.CutPrefix(inner, []byte("services"))
	if !ok || len(rest) == 0 || !isBlank(rest[0]) {
		return ""
	}
	return string(trimSpace(rest))
}
