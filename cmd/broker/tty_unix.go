//go:build !windows

package main

const defaultTTY = "/dev/tty"
