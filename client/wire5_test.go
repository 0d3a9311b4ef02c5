package client_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

// Helpers of the MQTT 5.0 tests: a loopback proxy that decodes what crosses
// it at level 5, and level-5 wrappers of the scripted broker (brokertest
// speaks 3.1.1). Names start with "w5" so they cannot collide with helpers
// of other test files.

// w5Link is one client connection through a w5Proxy.
type w5Link struct {
	id             int
	client, broker net.Conn
}

// cut closes both sides abruptly, as a network failure would.
func (l *w5Link) cut() {
	l.client.Close()
	l.broker.Close()
}

// w5Proxy forwards loopback connections to a broker, decoding every packet
// at level 5 before it forwards it, so that a test sees the wire as the
// broker and the client do. A packet goes on only after its hook returned,
// so state a hook keeps is up to date before the other side can react.
type w5Proxy struct {
	ln     net.Listener
	target string

	w5Hooks

	mu    sync.Mutex
	links []*w5Link
	wg    sync.WaitGroup
}

// w5Hooks are what a w5Proxy does besides forwarding, called on the
// link's goroutines.
type w5Hooks struct {
	fromClient func(l *w5Link, p packets.Packet) // client → broker
	fromBroker func(l *w5Link, p packets.Packet) // broker → client
	ackDelay   time.Duration                     // held before an outbound flow's ack reaches the client
}

// w5StartProxy listens on loopback for connections to target (host:port).
func w5StartProxy(t *testing.T, target string, hooks w5Hooks) *w5Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &w5Proxy{ln: ln, target: target, w5Hooks: hooks}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's broker URL.
func (p *w5Proxy) URL() string { return "mqtt://" + p.ln.Addr().String() }

func (p *w5Proxy) accept() {
	defer p.wg.Done()
	for {
		cc, err := p.ln.Accept()
		if err != nil {
			return
		}
		bc, err := net.Dial("tcp", p.target)
		if err != nil {
			cc.Close()
			continue
		}
		p.mu.Lock()
		l := &w5Link{id: len(p.links), client: cc, broker: bc}
		p.links = append(p.links, l)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(l, cc, bc, p.fromClient, 0)
		go p.pump(l, bc, cc, p.fromBroker, p.ackDelay)
	}
}

// pump forwards packets from src to dst, one at a time, until either ends.
func (p *w5Proxy) pump(l *w5Link, src, dst net.Conn, hook func(*w5Link, packets.Packet), ackDelay time.Duration) {
	defer p.wg.Done()
	defer l.cut()
	r := bufio.NewReader(src)
	for {
		raw, err := w5Frame(r)
		if err != nil {
			return
		}
		pk, _, err := packets.DecodeVersion(raw, client.MQTT5)
		if err != nil {
			panic(fmt.Sprintf("w5Proxy: undecodable packet % x: %v", raw, err))
		}
		if hook != nil {
			hook(l, pk)
		}
		if ackDelay > 0 {
			switch pk.Type() {
			case packets.TypePuback, packets.TypePubrec, packets.TypePubcomp:
				time.Sleep(ackDelay) // fault injection: a slow broker, not synchronisation
			}
		}
		if _, err := dst.Write(raw); err != nil {
			return
		}
	}
}

// w5Frame reads one whole packet, fixed header included.
func w5Frame(r *bufio.Reader) ([]byte, error) {
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	raw := []byte{first}
	n, mult := 0, 1
	for i := 0; ; i++ {
		if i == 4 {
			return nil, errors.New("remaining length over 4 bytes")
		}
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		raw = append(raw, b)
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(raw, body...), nil
}

// cutLast cuts the newest link and returns how many links there were.
func (p *w5Proxy) cutLast() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.links); n > 0 {
		p.links[n-1].cut()
	}
	return len(p.links)
}

func (p *w5Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, l := range p.links {
		l.cut()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Scripted broker at level 5.

// w5Next returns the next packet from the client, decoded at level 5.
func w5Next(t *testing.T, conn *brokertest.Conn) packets.Packet {
	t.Helper()
	raw := conn.ReadRaw(t)
	p, _, err := packets.DecodeVersion(raw, client.MQTT5)
	require.NoError(t, err, "the client sent a malformed packet % x", raw)
	return p
}

// w5Expect returns the next packet, which must have type want.
func w5Expect[P packets.Packet](t *testing.T, conn *brokertest.Conn) P {
	t.Helper()
	p := w5Next(t, conn)
	v, ok := p.(P)
	require.True(t, ok, "the client sent %v, want %T", p, v)
	return v
}

// w5Send writes p encoded at level 5.
func w5Send(t *testing.T, conn *brokertest.Conn, p packets.Packet) {
	t.Helper()
	b, err := p.AppendVersion(nil, client.MQTT5)
	require.NoError(t, err)
	conn.SendRaw(t, b)
}

// w5Accept accepts the next connection, reads its level-5 CONNECT and
// answers with a successful CONNACK carrying props (nil: none).
func w5Accept(t *testing.T, srv *brokertest.Server, sessionPresent bool, props *packets.Properties) (*brokertest.Conn, *packets.Connect) {
	t.Helper()
	conn := srv.Accept(t)
	connect := w5Expect[*packets.Connect](t, conn)
	require.Equal(t, client.MQTT5, connect.ProtocolLevel, "MQTT5-3.1.2-1")
	w5Send(t, conn, &packets.Connack{SessionPresent: sessionPresent, Properties: props})
	return conn, connect
}

// w5Config is faultConfig at level 5.
func w5Config(srv *brokertest.Server) client.Config {
	cfg := faultConfig(srv)
	cfg.Protocol = client.MQTT5
	return cfg
}

// w5Connect creates a 5.0 client, connects it to srv, which answers with
// props in CONNACK, and closes the client with the test.
func w5Connect(t *testing.T, srv *brokertest.Server, cfg client.Config, sessionPresent bool, props *packets.Properties) (*client.Client, *brokertest.Conn) {
	t.Helper()
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	errc := faultGo(func() error { return c.Connect(t.Context()) })
	conn, _ := w5Accept(t, srv, sessionPresent, props)
	require.NoError(t, faultRecv(t, errc))
	return c, conn
}

// w5ExpectDisconnect reads the client's DISCONNECT, checks its reason code
// and that the client then closes the connection.
func w5ExpectDisconnect(t *testing.T, conn *brokertest.Conn, code packets.ReasonCode) {
	t.Helper()
	d := w5Expect[*packets.Disconnect](t, conn)
	require.Equal(t, code, d.ReasonCode, "DISCONNECT reason code: %v", d)
	conn.ExpectClosed(t) // MQTT5-3.14.4-1, MQTT5-3.14.4-2
}

// w5Props builds CONNACK properties.
func w5Props(set ...func(*packets.Properties)) *packets.Properties {
	ps := new(packets.Properties)
	for _, f := range set {
		f(ps)
	}
	return ps
}

// w5Alias returns a PUBLISH's Topic Alias, 0 when it has none.
func w5Alias(p *packets.Publish) uint16 {
	if p.Properties == nil || !p.Properties.Present.Has(packets.PropTopicAlias) {
		return 0
	}
	return p.Properties.TopicAlias
}
