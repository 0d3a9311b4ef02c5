//go:build unix

package client

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// sockWriter writes to a plain TCP or Unix socket without waiting, for
// writeInline. One write runs at a time (conn.busy), so its fields are the
// write's state, and fn is made once: a write allocates nothing.
type sockWriter struct {
	nc  net.Conn
	rc  syscall.RawConn
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// plainSocket reports whether nc is a plain TCP or Unix socket, which
// newSockWriter can write without waiting. TLS, WebSocket and a Dialer's
// own types have framing of their own, and only their Write may touch the
// socket.
func plainSocket(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// newSockWriter returns a sockWriter for nc, a plain socket, or nil when
// its raw connection cannot be had.
func newSockWriter(nc net.Conn) *sockWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &sockWriter{nc: nc, rc: rc}
	w.fn = w.write
	return w
}

// writeNow writes as much of b as the socket takes without waiting, and
// returns how much that was. An error means only that the rest is for the
// writer goroutine, which writes it within the write timeout and reports
// what it finds.
func (w *sockWriter) writeNow(b []byte) (int, error) {
	n, err := w.try(b)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline the writer goroutine set for its last write has
		// passed: that says nothing of this write, which never waits.
		w.nc.SetWriteDeadline(time.Time{})
		n, err = w.try(b)
	}
	return n, err
}

func (w *sockWriter) try(b []byte) (int, error) {
	w.b, w.n, w.err = b, 0, nil
	if err := w.rc.Write(w.fn); err != nil && w.err == nil {
		w.err = err
	}
	n, err := w.n, w.err
	w.b, w.err = nil, nil
	return n, err
}

// write is the raw write: it returns true at once, with w.err set when the
// socket is full (EAGAIN) or failed, instead of waiting for room.
func (w *sockWriter) write(fd uintptr) bool {
	for w.n < len(w.b) {
		k, err := syscall.Write(int(fd), w.b[w.n:])
		if k > 0 {
			w.n += k
		}
		switch {
		case err == syscall.EINTR:
		case err != nil:
			w.err = err
			return true
		case k <= 0:
			w.err = io.ErrShortWrite
			return true
		}
	}
	return true
}
