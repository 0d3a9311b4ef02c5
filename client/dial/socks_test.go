// Tests of SOCKS5 proxies, against a minimal SOCKS5 server.

package dial

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// socksServer is a minimal SOCKS5 server (RFC 1928, RFC 1929): no
// authentication or username/password, CONNECT only.
type socksServer struct {
	addr       string
	user, pass string            // required credentials; empty: none
	hosts      map[string]string // domain name → address, for socks5h
	targets    chan string       // the address of each CONNECT request
}

func startSocks(t *testing.T, user, pass string, hosts map[string]string) *socksServer {
	t.Helper()
	s := &socksServer{user: user, pass: pass, hosts: hosts, targets: make(chan string, 16)}
	ln := listenLoopback(t)
	s.addr = ln.Addr().String()
	serveConns(t, ln, s.handle)
	return s
}

func (s *socksServer) handle(c net.Conn) {
	if !s.authenticate(c) {
		return
	}
	host, target, atyp, ok := s.request(c)
	if !ok {
		return
	}
	reply := func(code byte) { c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}) }
	s.targets <- target
	addr := target
	if atyp == 3 {
		if addr = s.hosts[host]; addr == "" {
			reply(0x04) // host unreachable
			return
		}
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		reply(0x05) // connection refused
		return
	}
	defer up.Close()
	reply(0x00)
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}

// readN reads n bytes from c, or returns nil.
func readN(c net.Conn, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		return nil
	}
	return b
}

// authenticate negotiates the method, no authentication or username and
// password (RFC 1929), and reports whether the client may go on.
func (s *socksServer) authenticate(c net.Conn) bool {
	// Greeting: VER NMETHODS METHODS...
	hdr := readN(c, 2)
	if hdr == nil || hdr[0] != 5 {
		return false
	}
	methods := readN(c, int(hdr[1]))
	want := byte(0x00)
	if s.user != "" {
		want = 0x02
	}
	if !bytes.Contains(methods, []byte{want}) {
		c.Write([]byte{5, 0xff})
		return false
	}
	c.Write([]byte{5, want})
	if want == 0x00 {
		return true
	}
	// VER ULEN UNAME PLEN PASSWD
	ulen := readN(c, 2)
	if ulen == nil {
		return false
	}
	user := string(readN(c, int(ulen[1])))
	plen := readN(c, 1)
	if plen == nil {
		return false
	}
	pass := string(readN(c, int(plen[0])))
	if user != s.user || pass != s.pass {
		c.Write([]byte{1, 1})
		return false
	}
	c.Write([]byte{1, 0})
	return true
}

// request reads a CONNECT request: VER CMD RSV ATYP DST.ADDR DST.PORT. It
// returns the host as sent, the target address and the address type, and
// answers any other command itself.
func (s *socksServer) request(c net.Conn) (host, target string, atyp byte, ok bool) {
	req := readN(c, 4)
	if req == nil {
		return "", "", 0, false
	}
	cmd, atyp := req[1], req[3]
	switch atyp {
	case 1:
		host = net.IP(readN(c, 4)).String()
	case 4:
		host = net.IP(readN(c, 16)).String()
	case 3:
		n := readN(c, 1)
		if n == nil {
			return "", "", 0, false
		}
		host = string(readN(c, int(n[0])))
	default:
		return "", "", 0, false
	}
	port := readN(c, 2)
	if port == nil {
		return "", "", 0, false
	}
	if cmd != 1 {
		c.Write([]byte{5, 0x07, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return "", "", 0, false
	}
	return host, net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port)))), atyp, true
}

// assertNoneProxied checks that s received no CONNECT request.
func (s *socksServer) assertNoneProxied(t *testing.T) {
	t.Helper()
	select {
	case target := <-s.targets:
		t.Errorf("connection to %s went through the proxy", target)
	default:
	}
}

func TestSocks5Proxy(t *testing.T) {
	echoAddr := startEchoServer(t)

	t.Run("no auth", func(t *testing.T) {
		s := startSocks(t, "", "", nil)
		o := &Dialer{Proxy: "socks5://" + s.addr}
		assertEcho(t, mustDial(t, o, "mqtt://"+echoAddr))
		assert.Equal(t, echoAddr, <-s.targets)
	})

	t.Run("username and password", func(t *testing.T) {
		s := startSocks(t, "alice", "s3cret", nil)
		o := &Dialer{Proxy: "socks5://alice:s3cret@" + s.addr}
		assertEcho(t, mustDial(t, o, "mqtt://"+echoAddr))
		assert.Equal(t, echoAddr, <-s.targets)

		o.Proxy = "socks5://alice:wr0ng@" + s.addr
		_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtt://"+echoAddr))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "wr0ng")
	})

	t.Run("socks5h sends the host name", func(t *testing.T) {
		s := startSocks(t, "", "", map[string]string{"broker.internal": echoAddr})
		_, port, _ := net.SplitHostPort(echoAddr)
		o := &Dialer{Proxy: "socks5h://" + s.addr}
		assertEcho(t, mustDial(t, o, "mqtt://broker.internal:"+port))
		assert.Equal(t, "broker.internal:"+port, <-s.targets)
	})

	t.Run("websocket through the proxy", func(t *testing.T) {
		srv := startWebSocket(t, wsServerConfig{}, (*wsPeer).echo)
		s := startSocks(t, "", "", nil)
		o := &Dialer{Proxy: "socks5://" + s.addr}
		assertEcho(t, mustDial(t, o, wsURL(srv, "/mqtt")))
		assert.Equal(t, srv.addr, <-s.targets)
	})

	t.Run("bad proxy", func(t *testing.T) {
		for _, p := range []string{"http://proxy.example:3128", "socks5://", "socks5://proxy.example/x"} {
			o := &Dialer{Proxy: p}
			_, err := o.Dial(context.Background(), mustParseBrokerURL(t, "mqtt://"+echoAddr))
			assert.ErrorContains(t, err, "dial: proxy", p)
		}
	})
}

func TestSocks5Environment(t *testing.T) {
	echoAddr := startEchoServer(t)
	s := startSocks(t, "", "", nil)
	t.Setenv("ALL_PROXY", "socks5://"+s.addr)
	t.Setenv("all_proxy", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	u := "mqtt://" + echoAddr

	assertEcho(t, mustDial(t, &Dialer{}, u))
	assert.Equal(t, echoAddr, <-s.targets, "ALL_PROXY used")

	assertEcho(t, mustDial(t, &Dialer{Proxy: ProxyDirect}, u))
	s.assertNoneProxied(t)

	t.Setenv("NO_PROXY", "127.0.0.1")
	assertEcho(t, mustDial(t, &Dialer{}, u))
	s.assertNoneProxied(t)

	// Like proxy.FromEnvironment, an unusable ALL_PROXY is ignored.
	t.Setenv("NO_PROXY", "")
	t.Setenv("ALL_PROXY", "http://proxy.example:3128")
	assertEcho(t, mustDial(t, &Dialer{}, u))
}
