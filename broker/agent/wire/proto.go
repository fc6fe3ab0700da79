package wire

import (
	"bufio"
	"encoding/json"
	"io"
	"time"
)

// MinRemaining is broker.MinRemaining: a session with less left is never
// handed out. (A test keeps the two equal; this package may not import
// broker, which links the AWS SDK.)
const MinRemaining = 15 * time.Minute

// The socket carries one JSON object per line each way. A client sends a
// Request and reads one Response, and may send more on the same
// connection.
//
// Version 2: a client that sends "v": 2 (or more) with get and Mint may be
// sent any number of "wait" lines before the answer, the first at once and
// then one every KeepAliveEvery at least, while another client mints: so it
// can tell a flight that takes long (a person typing a code) from an agent
// that does not answer (stopped, hung). A client without "v" never gets one.
//
//	get        the answer for Key. Mint false: "hit" or "miss". Mint true:
//	           "hit"; or "mint", which makes this connection the one that
//	           mints it (others asking for the same key wait); it then sends
//	           "put" with the credentials, or "fail", or closes, and the next
//	           waiting client is told "mint" in turn.
//	put        keep Creds as the answer for Key; waiting clients get "hit".
//	fail       this connection will not mint Key after all.
//	invalidate drop every answer (a command changed keys or sessions).
//	status     "ok" with Agent filled in.
//	stop       "ok", then the agent exits.
const (
	OpGet        = "get"
	OpPut        = "put"
	OpFail       = "fail"
	OpInvalidate = "invalidate"
	OpStatus     = "status"
	OpStop       = "stop"

	StatusHit   = "hit"
	StatusMiss  = "miss"
	StatusMint  = "mint"
	StatusOK    = "ok"
	StatusError = "error"
	StatusWait  = "wait" // not the answer yet: another client mints it (version 2)
)

// ProtocolVersion is the version of the messages this package sends.
const ProtocolVersion = 2

// KeepAliveEvery is the longest the agent stays silent while a version 2
// client waits for another's flight. IdleLimit is how long Get waits for
// the agent's next line before taking it for one that does not answer:
// several keep-alives' worth, so a loaded machine is not taken for a hung
// agent.
const (
	KeepAliveEvery = time.Second
	IdleLimit      = 5 * time.Second
)

// Request is one client message.
type Request struct {
	Op      string       `json:"op"`
	Version int          `json:"v,omitempty"`
	Key     string       `json:"key,omitempty"`
	Mint    bool         `json:"mint,omitempty"`
	Creds   *Credentials `json:"creds,omitempty"`
}

// Response is the agent's answer to one Request.
type Response struct {
	Status string       `json:"status"`
	Creds  *Credentials `json:"creds,omitempty"`
	Error  string       `json:"error,omitempty"`
	Agent  *AgentStatus `json:"agent,omitempty"`
}

// Credentials are one answer: what broker.Credentials holds.
type Credentials struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Expiration      time.Time `json:"expiration"`
	Region          string    `json:"region,omitempty"`
}

// Usable reports whether c may be handed out at now: complete, and with at
// least MinRemaining left.
func (c *Credentials) Usable(now time.Time) bool {
	return c != nil && c.AccessKeyID != "" && c.SecretAccessKey != "" && c.SessionToken != "" &&
		c.Expiration.Sub(now) >= MinRemaining
}

// AgentStatus is what `broker agent status` shows.
type AgentStatus struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Answers int       `json:"answers"` // held and still usable
	Flights int       `json:"flights"` // being minted now
	Idle    string    `json:"idle"`    // how long without a usable answer before it exits
}

// Document is the credential_process document, field for field and in the
// order `broker export` prints it.
type Document struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

// WriteDocument writes the credential_process document for c, as one
// line, in one write.
func WriteDocument(w io.Writer, c Credentials) error {
	bw := bufio.NewWriter(w)
	err := json.NewEncoder(bw).Encode(Document{
		Version:         1,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Expiration:      c.Expiration.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
