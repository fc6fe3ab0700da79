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
)

// Request is one client message.
type Request struct {
	Op    string       `json:"op"`
	Key   string       `json:"key,omitempty"`
	Mint  bool         `json:"mint,omitempty"`
	Creds *Credentials `json:"creds,omitempty"`
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
