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

// ErrUnresponsive means an agent accepted the connection but said nothing
// for IdleLimit (or the limit Get was given): it is stopped or hung. A
// client then takes the direct path, and says so.
var ErrUnresponsive = errors.New("the broker agent does not answer")

// Conn is a client's connection to the agent.
type Conn struct {
	c   *net.UnixConn
	r   *bufio.Reader
	enc *json.Encoder
	pid int
}

// PID is the pid of the process serving the socket, as the kernel says
// (SO_PEERCRED on Linux), whether it answers or not; 0 when unknown. Dial
// checked that it runs as this user.
func (c *Conn) PID() int { return c.pid }

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
	return &Conn{c: c, r: bufio.NewReader(c), enc: json.NewEncoder(c), pid: peerPID(c)}, nil
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

// Answer is what Get made of the agent's answer.
type Answer struct {
	Creds *Credentials // a hit that may be handed out now; nil otherwise
	Mint  bool         // this connection mints the answer (see OpGet)
}

// Get asks for key's answer (and, with mint, to mint it when nobody holds
// it), the one way every client asks. A hit is only returned when it may
// be handed out now (Credentials.Usable): anything else is no answer, so
// no client serves what the direct path would not. Keep-alives ("wait")
// are read past while another client mints, up to total; idle bounds the
// silence before and between lines (IdleLimit when 0), past which the
// agent is ErrUnresponsive.
func (c *Conn) Get(key string, mint bool, idle, total time.Duration, now func() time.Time) (Answer, error) {
	if idle <= 0 {
		idle = IdleLimit
	}
	end := time.Now().Add(total)
	if err := c.c.SetWriteDeadline(time.Now().Add(idle)); err != nil {
		return Answer{}, err
	}
	if err := c.enc.Encode(Request{Op: OpGet, Version: ProtocolVersion, Key: key, Mint: mint}); err != nil {
		return Answer{}, fmt.Errorf("talking to the agent: %w", err)
	}
	for waited := false; ; waited = true {
		deadline := time.Now().Add(idle)
		last := false
		if deadline.After(end) {
			deadline, last = end, true
		}
		if err := c.c.SetReadDeadline(deadline); err != nil {
			return Answer{}, err
		}
		line, err := c.r.ReadBytes('\n')
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout() && last && waited:
			return Answer{}, fmt.Errorf("another client's flight took more than %s", total)
		case errors.As(err, &ne) && ne.Timeout():
			return Answer{}, ErrUnresponsive
		case err != nil:
			return Answer{}, fmt.Errorf("talking to the agent: %w", err)
		}
		var resp Response
		if err := json.Unmarshal(line, &resp); err != nil {
			return Answer{}, errors.New("talking to the agent: a malformed answer")
		}
		switch resp.Status {
		case StatusWait:
			continue
		case StatusHit:
			if !resp.Creds.Usable(now()) {
				return Answer{}, errors.New("the agent's answer is incomplete or too close to expiry")
			}
			return Answer{Creds: resp.Creds}, nil
		case StatusMint:
			if !mint {
				return Answer{}, errors.New("the agent asked to mint unasked")
			}
			return Answer{Mint: true}, nil
		case StatusMiss:
			return Answer{}, nil
		case StatusError:
			return Answer{}, fmt.Errorf("the agent refused: %s", resp.Error)
		}
		return Answer{}, fmt.Errorf("talking to the agent: unexpected answer %q", resp.Status)
	}
}

// Close ends the connection; a flight this connection was minting passes
// to the next client waiting for it.
func (c *Conn) Close() error { return c.c.Close() }

// AnswersStatus reports whether the agent in dir answers a status request
// within timeout. A client whose get met silence (ErrUnresponsive) asks it
// to tell a stopped or hung agent from one of before protocol 2, which
// sends no "wait" lines while another client mints and so is silent then
// while alive.
func AnswersStatus(dir string, timeout time.Duration) bool {
	conn, err := Dial(dir)
	if err != nil {
		return false
	}
	defer conn.Close()
	_, err = conn.Do(Request{Op: OpStatus}, timeout)
	return err == nil
}
