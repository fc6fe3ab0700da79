package wire

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrNotRunning means no agent answers on the socket.
var ErrNotRunning = errors.New("no broker agent is running")

// Conn is a client's connection to the agent.
type Conn struct {
	c   *net.UnixConn
	r   *bufio.Reader
	enc *json.Encoder
}

// Dial connects to the agent in dir after checking that the folder and the
// socket are this user's alone, and that the process answering runs as this
// user. A missing socket or one nobody listens on is ErrNotRunning.
func Dial(dir string) (*Conn, error) {
	if err := CheckDir(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotRunning
		}
		return nil, err
	}
	sock := filepath.Join(dir, SocketName)
	if err := CheckSocket(sock); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotRunning
		}
		return nil, err
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	uid, err := PeerUID(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	if uid != os.Getuid() {
		c.Close()
		return nil, fmt.Errorf("the agent's socket is served by uid %d: %w", uid, ErrUnsafe)
	}
	return &Conn{c: c, r: bufio.NewReader(c), enc: json.NewEncoder(c)}, nil
}

// Do sends req and reads the response, within timeout (0: no limit).
func (c *Conn) Do(req Request, timeout time.Duration) (Response, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := c.c.SetDeadline(deadline); err != nil {
		return Response{}, err
	}
	if err := c.enc.Encode(req); err != nil {
		return Response{}, fmt.Errorf("talking to the agent: %w", err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return Response{}, fmt.Errorf("talking to the agent: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, errors.New("talking to the agent: a malformed answer")
	}
	if resp.Status == StatusError {
		return resp, fmt.Errorf("the agent refused: %s", resp.Error)
	}
	return resp, nil
}

// Close ends the connection; a flight this connection was minting passes
// to the next client waiting for it.
func (c *Conn) Close() error { return c.c.Close() }
