//go:build !unix

package wire

import "io/fs"

func owner(fs.FileInfo) (int, bool) { return 0, false }

func identity(fi fs.FileInfo) []uint64 {
	return []uint64{uint64(fi.Size()), uint64(fi.ModTime().UnixNano())}
}
