package brokertest

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// DefaultTimeout bounds each wait of a Server whose Timeout is zero.
const DefaultTimeout = 5 * time.Second

// pipeURL is the broker URL of a pipe server. Only its Dial reaches it.
const pipeURL = "mqtt://brokertest.pipe:1883"

// Server accepts client connections for a test to script. It is closed,
// with every connection it accepted, by the test's cleanup.
type Server struct {
	// Timeout bounds every Accept and every read or write of its
	// connections. Zero: DefaultTimeout. Set it before the first Accept.
	Timeout time.Duration

	ln   *net.TCPListener // loopback listener; nil for a pipe server
	pipe chan net.Conn    // server ends of pipes made by Dial; nil for TCP

	mu     sync.Mutex
	conns  []*Conn
	closed bool
}

// New starts a server on 127.0.0.1 with a port chosen by the kernel.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("brokertest: listen: %v", err)
	}
	s := &Server{ln: ln.(*net.TCPListener)}
	t.Cleanup(s.close)
	return s
}

// NewPipe returns a server reached only through its Dial method, which
// connects with net.Pipe. Use it with Config.Dial in tests that run inside
// testing/synctest: a pipe blocks durably and its deadlines follow the fake
// clock. A pipe is synchronous, so a write by either side waits until the
// other side reads it.
func NewPipe(t testing.TB) *Server {
	s := &Server{pipe: make(chan net.Conn, 16)}
	t.Cleanup(s.close)
	return s
}

// URL returns the broker URL to put in Config.Brokers.
func (s *Server) URL() string {
	if s.ln == nil {
		return pipeURL
	}
	return "mqtt://" + s.ln.Addr().String()
}

// Dial connects to the server whatever u says; it has the signature of
// client.DialFunc. A pipe server needs it; a TCP server offers it for
// symmetry.
func (s *Server) Dial(ctx context.Context, _ *url.URL) (net.Conn, error) {
	if s.ln != nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", s.ln.Addr().String())
	}
	cli, srv := net.Pipe()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		select {
		case s.pipe <- srv: // the backlog
			return cli, nil
		default:
		}
	}
	cli.Close()
	srv.Close()
	return nil, &net.OpError{Op: "dial", Net: "pipe", Err: syscall.ECONNREFUSED}
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// accept waits up to d for the next connection. It returns nil, nil when
// none came.
func (s *Server) accept(d time.Duration) (net.Conn, error) {
	if s.ln != nil {
		if err := s.ln.SetDeadline(time.Now().Add(d)); err != nil {
			return nil, err
		}
		nc, err := s.ln.Accept()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, nil
		}
		return nc, err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case nc := <-s.pipe:
		return nc, nil
	case <-t.C:
		return nil, nil
	}
}

// Accept returns the next client connection. It fails the test when none
// arrives within Timeout.
func (s *Server) Accept(t testing.TB) *Conn {
	t.Helper()
	nc, err := s.accept(s.timeout())
	if err != nil {
		t.Fatalf("brokertest: accept: %v", err)
	}
	if nc == nil {
		t.Fatalf("brokertest: no client connected within %v", s.timeout())
	}
	c := &Conn{nc: nc, timeout: s.timeout()}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		t.Fatalf("brokertest: accept on a closed server")
	}
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return c
}

// AcceptConnected accepts the next connection, reads its CONNECT and
// accepts it with CONNACK return code 0.
func (s *Server) AcceptConnected(t testing.TB, sessionPresent bool) (*Conn, *packets.Connect) {
	t.Helper()
	c := s.Accept(t)
	connect := c.ExpectConnect(t)
	c.Connack(t, sessionPresent, packets.ConnackAccepted)
	return c, connect
}

// ExpectNoConnection fails the test if a client connects within d.
func (s *Server) ExpectNoConnection(t testing.TB, d time.Duration) {
	t.Helper()
	nc, err := s.accept(d)
	if err != nil {
		t.Fatalf("brokertest: accept: %v", err)
	}
	if nc != nil {
		nc.Close()
		t.Fatalf("brokertest: a client connected, want no connection within %v", d)
	}
}

// close stops accepting and cuts every connection.
func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	for s.pipe != nil {
		select {
		case nc := <-s.pipe:
			nc.Close()
		default:
			return
		}
	}
}
