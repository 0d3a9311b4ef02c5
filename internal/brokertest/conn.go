package brokertest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// Conn is the broker's end of one client connection. Its methods that take a
// testing.TB fail the test when the client does not behave as expected; call
// them from the test goroutine only.
type Conn struct {
	nc      net.Conn
	timeout time.Duration
	level   packets.ProtocolLevel // the CONNECT's level: packets are decoded and encoded at it

	buf  []byte // read from the client, not yet returned as a packet
	rerr error  // sticky end of the stream (EOF, reset)
}

// errTimeout reports a read that found no complete packet in time.
var errTimeout = errors.New("brokertest: timed out")

// frame returns the length of the first packet in b, or 0 when b holds only
// part of one. A remaining length longer than 4 bytes is an error
// (MQTT 3.1.1 §2.2.3).
func frame(b []byte) (int, error) {
	n, mult := 0, 1
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return 0, nil
		}
		n += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			if len(b) < 1+i+n {
				return 0, nil
			}
			return 1 + i + n, nil
		}
		mult *= 128
	}
	return 0, fmt.Errorf("brokertest: client sent a remaining length longer than 4 bytes: % x", b[:5])
}

// read returns the bytes of the next packet, waiting until deadline. The
// error is errTimeout when none came, or the end of the stream.
func (c *Conn) read(deadline time.Time) ([]byte, error) {
	var tmp [4096]byte
	for {
		n, err := frame(c.buf)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			raw := append([]byte(nil), c.buf[:n]...)
			c.buf = append(c.buf[:0], c.buf[n:]...)
			return raw, nil
		}
		if c.rerr != nil {
			return nil, c.rerr
		}
		if err := c.nc.SetReadDeadline(deadline); err != nil {
			c.rerr = err
			continue
		}
		m, err := c.nc.Read(tmp[:])
		c.buf = append(c.buf, tmp[:m]...)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, errTimeout
		default:
			c.rerr = err
		}
	}
}

// closedErr reports whether err is how a read sees the client closing the
// connection: EOF, or a reset when the client closed with input unread.
func closedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrClosedPipe)
}

// ReadRaw returns the encoding of the next packet from the client, fixed
// header included, without decoding it.
func (c *Conn) ReadRaw(t testing.TB) []byte {
	t.Helper()
	raw, err := c.read(time.Now().Add(c.timeout))
	switch {
	case err == nil:
		return raw
	case errors.Is(err, errTimeout):
		t.Fatalf("brokertest: no packet from the client within %v", c.timeout)
	case closedErr(err) && len(c.buf) == 0:
		t.Fatalf("brokertest: the client closed the connection (%v), want a packet", err)
	default:
		t.Fatalf("brokertest: reading from the client: %v (%d bytes of a packet read: % x)", err, len(c.buf), c.buf)
	}
	return nil
}

// Next returns the next packet from the client, whatever its type.
func (c *Conn) Next(t testing.TB) packets.Packet {
	t.Helper()
	raw := c.ReadRaw(t)
	p, err := c.decode(raw)
	if err != nil {
		t.Fatalf("brokertest: the client sent a malformed packet % x: %v", raw, err)
	}
	return p
}

// decode decodes a packet at the connection's level. Before CONNECT the
// level is unknown, and a CONNECT decoded at 5.0 takes the level it
// carries; it then sets the connection's.
func (c *Conn) decode(raw []byte) (packets.Packet, error) {
	level := c.level
	if level == 0 {
		level = packets.ProtocolMQTT5
	}
	p, _, err := packets.DecodeVersion(raw, level)
	if cp, ok := p.(*packets.Connect); ok && err == nil {
		c.level = cp.ProtocolLevel
	}
	return p, err
}

// Level returns the protocol level of the client's CONNECT, or 0 before it.
func (c *Conn) Level() packets.ProtocolLevel { return c.level }

// Receive returns the next packet from the client, or open false when the
// client closed the connection between two packets. It fails the test on a
// timeout and when the stream ends inside a packet.
func (c *Conn) Receive(t testing.TB) (p packets.Packet, open bool) {
	t.Helper()
	raw, err := c.read(time.Now().Add(c.timeout))
	switch {
	case err == nil:
		p, err := c.decode(raw)
		if err != nil {
			t.Fatalf("brokertest: the client sent a malformed packet % x: %v", raw, err)
		}
		return p, true
	case errors.Is(err, errTimeout):
		t.Fatalf("brokertest: the client neither sent a packet nor closed the connection within %v", c.timeout)
	case closedErr(err) && len(c.buf) == 0:
		return nil, false
	default:
		t.Fatalf("brokertest: reading from the client: %v (%d bytes of a packet read: % x)", err, len(c.buf), c.buf)
	}
	return nil, false
}

// Expect returns the next packet from the client and fails the test unless
// it has type want.
func (c *Conn) Expect(t testing.TB, want packets.Type) packets.Packet {
	t.Helper()
	p := c.Next(t)
	if p.Type() != want {
		t.Fatalf("brokertest: the client sent %v, want %s", p, want)
	}
	return p
}

// ExpectConnect returns the next packet, which must be CONNECT.
func (c *Conn) ExpectConnect(t testing.TB) *packets.Connect {
	t.Helper()
	return c.Expect(t, packets.TypeConnect).(*packets.Connect)
}

// ExpectPublish returns the next packet, which must be PUBLISH.
func (c *Conn) ExpectPublish(t testing.TB) *packets.Publish {
	t.Helper()
	return c.Expect(t, packets.TypePublish).(*packets.Publish)
}

// ExpectAck returns the packet identifier of the next packet, which must
// have type want (PUBACK, PUBREC, PUBREL, PUBCOMP).
func (c *Conn) ExpectAck(t testing.TB, want packets.Type) uint16 {
	t.Helper()
	switch p := c.Expect(t, want).(type) {
	case *packets.Puback:
		return p.PacketID
	case *packets.Pubrec:
		return p.PacketID
	case *packets.Pubrel:
		return p.PacketID
	case *packets.Pubcomp:
		return p.PacketID
	}
	t.Fatalf("brokertest: ExpectAck of %s, which is not an acknowledgment", want)
	return 0
}

// AckSubscribe reads the next packet, which must be SUBSCRIBE, and answers
// it with a SUBACK granting every requested QoS.
func (c *Conn) AckSubscribe(t testing.TB) *packets.Subscribe {
	t.Helper()
	sub := c.Expect(t, packets.TypeSubscribe).(*packets.Subscribe)
	ack := &packets.Suback{PacketID: sub.PacketID}
	for _, s := range sub.Subscriptions {
		if c.level == packets.ProtocolMQTT5 {
			ack.ReasonCodes = append(ack.ReasonCodes, packets.ReasonCode(s.QoS))
		} else {
			ack.ReturnCodes = append(ack.ReturnCodes, packets.SubackCode(s.QoS))
		}
	}
	c.Send(t, ack)
	return sub
}

// Connack answers CONNECT.
func (c *Conn) Connack(t testing.TB, sessionPresent bool, code packets.ConnackCode) {
	t.Helper()
	c.Send(t, &packets.Connack{SessionPresent: sessionPresent, ReturnCode: code})
}

// Send writes a packet to the client, encoded at the level of its CONNECT.
func (c *Conn) Send(t testing.TB, p packets.Packet) {
	t.Helper()
	b, err := p.AppendVersion(nil, c.level)
	if err != nil {
		t.Fatalf("brokertest: encoding %v: %v", p, err)
	}
	c.SendRaw(t, b)
}

// SendRaw writes bytes to the client as they are: use it for packets the
// codec refuses to encode.
func (c *Conn) SendRaw(t testing.TB, b []byte) {
	t.Helper()
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	if _, err := c.nc.Write(b); err != nil {
		t.Fatalf("brokertest: writing % x to the client: %v", b, err)
	}
}

// Drop writes the first half of p's encoding (at least one byte) and cuts
// the connection: the client sees the stream end inside a packet.
func (c *Conn) Drop(t testing.TB, p packets.Packet) {
	t.Helper()
	b, err := p.AppendVersion(nil, c.level)
	if err != nil {
		t.Fatalf("brokertest: encoding %v: %v", p, err)
	}
	c.SendRaw(t, b[:max(1, len(b)/2)])
	c.Close()
}

// ExpectClosed fails the test unless the client closes the connection
// within the timeout without sending another packet.
func (c *Conn) ExpectClosed(t testing.TB) {
	t.Helper()
	raw, err := c.read(time.Now().Add(c.timeout))
	switch {
	case err == nil:
		p, _, derr := packets.Decode(raw)
		if derr != nil {
			t.Fatalf("brokertest: the client sent % x, want the connection closed", raw)
		}
		t.Fatalf("brokertest: the client sent %v, want the connection closed", p)
	case errors.Is(err, errTimeout):
		t.Fatalf("brokertest: the client did not close the connection within %v", c.timeout)
	case !closedErr(err):
		t.Fatalf("brokertest: reading from the client: %v", err)
	case len(c.buf) > 0:
		t.Fatalf("brokertest: the client closed the connection inside a packet: % x", c.buf)
	}
}

// ExpectNothing fails the test if the client sends a packet or closes the
// connection within d.
func (c *Conn) ExpectNothing(t testing.TB, d time.Duration) {
	t.Helper()
	raw, err := c.read(time.Now().Add(d))
	switch {
	case err == nil:
		p, _, derr := packets.Decode(raw)
		if derr != nil {
			t.Fatalf("brokertest: the client sent % x, want nothing for %v", raw, d)
		}
		t.Fatalf("brokertest: the client sent %v, want nothing for %v", p, d)
	case errors.Is(err, errTimeout):
	default:
		t.Fatalf("brokertest: want nothing for %v, the connection ended: %v", d, err)
	}
}

// Close cuts the connection abruptly, without any packet.
func (c *Conn) Close() {
	c.nc.Close()
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }
