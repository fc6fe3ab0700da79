//go:build unix

package wire

import (
	"io/fs"
	"syscall"
)

func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// identity is what tells one version of a file from another without
// reading it: device, inode, size, change and modification times.
func identity(fi fs.FileInfo) []uint64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return []uint64{uint64(fi.Size()), uint64(fi.ModTime().UnixNano())}
	}
	return []uint64{uint64(st.Dev), uint64(st.Ino), uint64(st.Size), uint64(fi.ModTime().UnixNano()), changeTime(st)}
}
