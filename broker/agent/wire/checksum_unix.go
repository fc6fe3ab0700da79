//go:build unix

package wire

import (
	"hash/crc32"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// checksum is the CRC-32C of f's size bytes, read through a read-only
// mapping: no buffer to allocate, zero and copy into, which for a large
// config costs more than the checksum. A file cut short meanwhile (an
// editor rewriting it in place) faults on the missing pages; the fault
// becomes a panic here, and the checksum is read the ordinary way.
func checksum(f *os.File, size int64) (sum uint32, err error) {
	if size == 0 || size != int64(int(size)) {
		return checksumRead(f)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return checksumRead(f)
	}
	defer unix.Munmap(data)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			sum, err = checksumRead(f)
		}
	}()
	return crc32.Checksum(data, castagnoli), nil
}
