//go:build windows

package main

const defaultTTY = "CONIN$"
