package testpty

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// timeout is how long WaitFor waits for the terminal to show something
// before the test fails.
const timeout = 30 * time.Second

// PTY is a pseudo-terminal whose master side the test holds. Everything the
// terminal shows is read from the start and kept.
type PTY struct {
	// Path is the slave side, e.g. /dev/pts/3.
	Path string

	master *os.File
	slave  *os.File // opened by Slave

	mu   sync.Mutex
	seen strings.Builder // everything the terminal showed
	more chan struct{}   // closed and replaced on each read
}

// Open opens a new pseudo-terminal, closed when the test ends. It skips the
// test where there are no pseudo-terminals.
func Open(t testing.TB) *PTY {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var n uint32
	conn, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil {
		t.Fatalf("unlocking pseudo-terminal: %v", err)
	}
	p := &PTY{Path: fmt.Sprintf("/dev/pts/%d", n), master: m, more: make(chan struct{})}
	go p.read()
	return p
}

// Slave returns the slave side opened as a file, without making it the
// test's controlling terminal. It is opened on the first call and closed
// when the test ends; each call returns the same file.
func (p *PTY) Slave(t testing.TB) *os.File {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slave == nil {
		s, err := os.OpenFile(p.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		p.slave = s
	}
	return p.slave
}

func (p *PTY) read() {
	buf := make([]byte, 1024)
	for {
		n, err := p.master.Read(buf)
		p.mu.Lock()
		p.seen.Write(buf[:n])
		close(p.more)
		p.more = make(chan struct{})
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// WaitFor waits until the terminal has shown want.
func (p *PTY) WaitFor(t testing.TB, want string) {
	t.Helper()
	p.WaitForCount(t, want, 1)
}

// WaitForCount waits until the terminal has shown want count times in all.
func (p *PTY) WaitForCount(t testing.TB, want string, count int) {
	t.Helper()
	timeout := time.After(timeout)
	for {
		p.mu.Lock()
		seen, more := p.seen.String(), p.more
		p.mu.Unlock()
		if strings.Count(seen, want) >= count {
			return
		}
		select {
		case <-more:
		case <-timeout:
			if count == 1 {
				t.Fatalf("terminal never showed %q; it showed %q", want, seen)
			}
			t.Fatalf("terminal never showed %q %d times; it showed %q", want, count, seen)
		}
	}
}

// Shown is everything the terminal has shown so far.
func (p *PTY) Shown() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String()
}

// Settle waits until the terminal has shown nothing new for a moment, and
// returns everything it has shown.
func (p *PTY) Settle() string {
	for {
		p.mu.Lock()
		more := p.more
		p.mu.Unlock()
		select {
		case <-more:
		case <-time.After(200 * time.Millisecond):
			return p.Shown()
		}
	}
}

// Type types s at the terminal.
func (p *PTY) Type(t testing.TB, s string) {
	t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// Modes are the terminal's local modes that a prompt changes: echo,
// canonical input, signals and extended input processing.
func (p *PTY) Modes(t testing.TB) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.Slave(t).Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag & (unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN)
}
