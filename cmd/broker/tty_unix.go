//go:build !windows

package main

const defaultTTY = "/dev/tty"

// redoLine moves the cursor back up to the line just answered and clears
// it, so that it can be written again (with the answer masked).
const redoLine = "\x1b[1A\r\x1b[2K"
