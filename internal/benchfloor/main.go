// Command benchfloor is the floor of scripts/bench.sh: the least a Go program
// can do to answer as `broker export` does. It prints a credential_process
// document of the same shape (same fields, same order, same encoder, one
// buffered write) with fixed values, and nothing else: no config, no
// keychain, no flags.
//
// Everything broker's warm call costs above this program is broker's own.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// document has the fields and tags of the credential_process document that
// cmd/broker writes.
type document struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

// The values have the lengths of real STS session credentials; they are
// fixed, so the program reads nothing.
var doc = document{
	Version:         1,
	AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
	SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	SessionToken: "FwoGZXIvYXdzEBYaDNpvQW1sZXhhbXBsZXRva2VuIiwwKgYIAhABGAEiBEFBQUFvN7dT" +
		"QmVuY2htYXJrRmxvb3JTZXNzaW9uVG9rZW5UaGF0SXNBc0xvbmdBc0FSZWFsT25lQW5kTm90aGluZ01v" +
		"cmVUaGFuQUZpeGVkU3RyaW5nT2ZCYXNlNjRMb29raW5nQnl0ZXNGb3JUaGVGbG9vck9mQnJva2VyRXhw" +
		"b3J0V2hpY2hQcmludHNUaGVTYW1lU2hhcGVkRG9jdW1lbnRXaXRoRW5jb2RpbmdKc29uSW5PbmVXcml0" +
		"ZQ==",
	Expiration: "2030-01-01T00:00:00Z",
}

func main() {
	w := bufio.NewWriter(os.Stdout)
	err := json.NewEncoder(w).Encode(doc)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfloor:", err)
		os.Exit(1)
	}
}
