package wire

import (
	"hash/crc32"
	"io"
	"os"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksumRead is the CRC-32C of what is left to read in f.
func checksumRead(f *os.File) (uint32, error) {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, f); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}
