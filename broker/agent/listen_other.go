//go:build !unix

package agent

import (
	"errors"
	"net"
)

func listen(string) (*net.UnixListener, func(), func() error, error) {
	return nil, nil, nil, errors.New("the broker agent is not supported on Windows; BROKER_AGENT is off here")
}
