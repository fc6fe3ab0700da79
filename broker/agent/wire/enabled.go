package wire

import "strings"

// Enabled reports whether broker uses the agent: on a supported system,
// unless BROKER_AGENT is "off" (or "0", "false", "no").
func Enabled(getenv func(string) string) bool {
	switch strings.ToLower(getenv("BROKER_AGENT")) {
	case "off", "0", "false", "no":
		return false
	}
	return Supported
}
