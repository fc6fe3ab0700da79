//go:build windows

package main

const defaultTTY = "CONIN$"

// redoLine is empty: a console without VT processing would print it.
const redoLine = ""
