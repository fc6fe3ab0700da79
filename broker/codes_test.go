package broker

import (
	"context"
	"sync"

	"github.com/broker-dev/broker/mfa"
)

// testUser is the IAM user the moto-backed tests create.
const testUser = "alice"

// codes is a TokenSource that counts how often a code was asked for.
type codes struct {
	mu sync.Mutex
	n  int
}

func (c *codes) Code(context.Context, mfa.Request) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return "123456", false, nil
}

func (c *codes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
