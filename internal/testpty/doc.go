// Package testpty gives broker's tests a pseudo-terminal to play the person
// at: the test reads what the terminal shows and types at the master side,
// and the code under test uses the slave side, by its path or as a file
// (the stdin and controlling terminal of a command started in a session of
// its own). It is used only by tests, and only on Linux.
package testpty
