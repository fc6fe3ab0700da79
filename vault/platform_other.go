//go:build !linux

package vault

// The Secret Service and the kernel keyring are Linux only; keyring does
// not offer them elsewhere, so Open never probes them.

func probeSecretService(string) error { return nil }

func probeKeyctl() error { return nil }

func isLocked(error) bool { return false }

// keyctlPerm is unused: the kernel keyring is Linux only.
const keyctlPerm = 0

func isGone(error) bool { return false }

// noBus: only Linux backends need the session bus.
func noBus(string) error { return nil }

// hungBus: only Linux backends need the session bus.
func hungBus(string) error { return nil }
