// Package rundir finds broker's private per-user runtime folder, where its
// lock files (and the agent's socket) live: a folder only the user can
// write, which no other local user can create first, replace or point
// elsewhere. It needs only the standard library, so a small client can
// link it.
package rundir

import (
	"fmt"
	"os/user"
	"strconv"
)

// ForeignError is a folder broker would use that belongs to another user:
// typically root's, left by `sudo -E broker`. broker never uses it.
type ForeignError struct {
	Path string
	UID  int
	Link bool // Path is a link another user made
}

func (e *ForeignError) Error() string {
	what := "folder"
	if e.Link {
		what = "link"
	}
	return fmt.Sprintf("broker's runtime %s %s belongs to %s, not to you", what, e.Path, ownerName(e.UID))
}

// Hint says how to get rid of it.
func (e *ForeignError) Hint() string {
	if e.UID == 0 {
		return fmt.Sprintf("it was probably made by `sudo -E broker`; remove it with: sudo rm -r %s", e.Path)
	}
	return fmt.Sprintf("ask its owner or an administrator to remove %s", e.Path)
}

func ownerName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("user %s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}
