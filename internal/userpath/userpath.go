// Package userpath expands a leading ~ in a path taken from the
// environment (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), as botocore
// does with os.path.expanduser, so that broker, its small client and the
// AWS CLI read the same file. It links nothing but the standard library's
// basics: the credential_process client uses it.
package userpath

import (
	"os"
	"path/filepath"
	"strings"
)

// Expand replaces a leading "~" or "~/" (on Windows also "~\") of path with
// home. It leaves "~user/..." as it is (botocore would look the user up;
// broker does not), and so a path when home is "".
func Expand(path, home string) string {
	if home == "" || !strings.HasPrefix(path, "~") {
		return path
	}
	rest := path[1:]
	if rest == "" {
		return home
	}
	if rest[0] == '/' || os.PathSeparator == '\\' && rest[0] == '\\' {
		return filepath.Join(home, rest[1:])
	}
	return path
}
