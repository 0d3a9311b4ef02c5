// conn.go holds one network connection: how producers append packets to its
// pending batch (the writer that sends it is in writer.go), and the read
// loop that hands each packet to its flow.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/feedmq/feedmq/packets"
)

// conn is one accepted network connection.
//
// Packets reach the network in batches: producers (the session, the
// inbound acknowledger, QoS 0 publishers) encode straight into pending under
// mu; the writer goroutine swaps the whole batch out and writes it in one
// call. The first producer to find no writer running starts one, and the
// writer exits once nothing was queued for writerLinger, so an idle
// connection has none while a busy one keeps its writer.
// Nobody waits for the writer except a caller who asked to: a stuck write
// only lets pending grow, and pending is bounded by what the session admits
// (MaxInflight, MaxPending).
type conn struct {
	// Immutable after connect.
	c              *Client
	nc             net.Conn
	broker         string // URL without credentials
	epoch          uint64
	sessionPresent bool
	ka             *keepalive // nil when keepalive is off
	debug          bool

	mu       sync.Mutex // guards the fields below; never held across I/O
	pending  []byte     // encoded packets the writer has not taken yet
	waiters  []*outMsg  // PUBLISHes in pending, told when it is written
	sentDisc chan struct{}
	final    bool // DISCONNECT queued: nothing may follow (MQTT-3.14.4-2)
	ended    bool // no more writes: err says why
	writing  bool // a writer goroutine owns the socket's write side

	writers  sync.WaitGroup // the writer goroutine, while one runs
	wake     chan struct{}  // capacity 1: pending became non-empty while the writer waited
	done     chan struct{}  // closed when the connection is torn down
	failOnce sync.Once
	err      error // why it ended; set before done is closed
}

// errConnEnded is what a write to a connection that already ended reports
// when it has no cause of its own.
var errConnEnded = errors.New("client: connection ended")

// fail tears the connection down once, recording why. Closing the socket
// unblocks the reader and a writer stuck in Write.
func (cn *conn) fail(err error) {
	cn.failOnce.Do(func() {
		cn.mu.Lock()
		cn.err = err
		cn.ended = true
		cn.mu.Unlock()
		close(cn.done)
		cn.nc.Close()
	})
}

// beginAppend locks the connection for a producer that appends to pending,
// unless the connection takes no more: then it returns why, unlocked.
func (cn *conn) beginAppend() (wasEmpty bool, err error) {
	cn.mu.Lock()
	if cn.ended || cn.final {
		err = cn.err
		cn.mu.Unlock()
		if err == nil {
			err = errConnEnded
		}
		return false, err
	}
	return len(cn.pending) == 0, nil
}

// endAppend unlocks after beginAppend and, when something was appended,
// sees that a writer will take it.
func (cn *conn) endAppend(wasEmpty, appended bool) {
	start := appended && cn.claimWriter(wasEmpty)
	cn.mu.Unlock()
	if start {
		go cn.writeLoop()
	}
}

// send queues any packet. The hot paths use sendAck and sendPublish, which
// do not box their packet.
func (cn *conn) send(p packets.Packet) error {
	wasEmpty, err := cn.beginAppend()
	if err != nil {
		return err
	}
	cn.pending, err = p.Append(cn.pending)
	cn.endAppend(wasEmpty, err == nil)
	cn.logSent(p, err)
	return err
}

// sendAck queues PUBACK, PUBREC, PUBREL or PUBCOMP without allocating.
func (cn *conn) sendAck(t packets.Type, id uint16) error {
	wasEmpty, err := cn.beginAppend()
	if err != nil {
		return err
	}
	switch t {
	case packets.TypePuback:
		p := packets.Puback{PacketID: id}
		cn.pending, _ = p.Append(cn.pending)
	case packets.TypePubrec:
		p := packets.Pubrec{PacketID: id}
		cn.pending, _ = p.Append(cn.pending)
	case packets.TypePubrel:
		p := packets.Pubrel{PacketID: id}
		cn.pending, _ = p.Append(cn.pending)
	case packets.TypePubcomp:
		p := packets.Pubcomp{PacketID: id}
		cn.pending, _ = p.Append(cn.pending)
	}
	cn.endAppend(wasEmpty, true)
	if cn.debug {
		cn.logSent(ackPacket(t, id), nil)
	}
	return nil
}

// ackPacket builds an acknowledgment as a Packet, for the debug log.
func ackPacket(t packets.Type, id uint16) packets.Packet {
	switch t {
	case packets.TypePuback:
		return &packets.Puback{PacketID: id}
	case packets.TypePubrec:
		return &packets.Pubrec{PacketID: id}
	case packets.TypePubrel:
		return &packets.Pubrel{PacketID: id}
	default:
		return &packets.Pubcomp{PacketID: id}
	}
}

// sendPublish queues m's PUBLISH. Once the batch holding it is written, a
// QoS 0 message completes (or fails with the write's error) and a QoS 1 or
// 2 message is marked written, so that only a PUBLISH that really left is
// resent with DUP set (MQTT-3.3.1-1): brokers treat a DUP PUBLISH they do
// not know differently from a new one.
func (cn *conn) sendPublish(m *outMsg) error {
	wasEmpty, err := cn.beginAppend()
	if err != nil {
		return err
	}
	cn.pending, err = m.pub.Append(cn.pending)
	if err == nil {
		cn.waiters = append(cn.waiters, m)
	}
	cn.endAppend(wasEmpty, err == nil)
	cn.logSent(&m.pub, err)
	return err
}

// sendDisconnect queues DISCONNECT as the connection's last packet and
// returns a channel closed once it was written or could not be.
func (cn *conn) sendDisconnect() <-chan struct{} {
	sent := make(chan struct{})
	wasEmpty, err := cn.beginAppend()
	if err == nil {
		p := packets.Disconnect{}
		cn.pending, err = p.Append(cn.pending)
		if err == nil {
			cn.final, cn.sentDisc = true, sent
		}
		cn.endAppend(wasEmpty, err == nil)
	}
	if err != nil {
		close(sent)
	}
	return sent
}

func (cn *conn) logSent(p packets.Packet, err error) {
	if cn.debug && err == nil {
		cn.c.s.log.Debug("sent", "packet", p.String())
	}
}

// readBufferSize is the read buffer of a connection. 1 KiB would save an
// idle connection 3 KiB, but cost a third of the receive throughput at
// 64 B and 4 KiB payloads (measured with bench/client SinkReceive).
const readBufferSize = 4096

// readLoop reads packets and hands each to its flow until the connection
// ends. It never runs user code; it stops reading only while handlers are
// over their budget (backpressure).
func (cn *conn) readLoop() {
	c := cn.c
	r := packets.NewReaderSize(cn.nc, readBufferSize)
	r.SetMaxPacketSize(c.s.MaxPacketSize)
	r.SetSkipOversizePublish(true)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			err = c.in.skipped(cn, err)
		}
		if err != nil {
			cn.fail(readError(err))
			return
		}
		if p == nil {
			continue // an oversize PUBLISH, skipped
		}
		c.stats.packetsIn.Add(1)
		if cn.ka != nil {
			_, pong := p.(*packets.Pingresp)
			cn.ka.received(pong)
		}
		if cn.debug {
			// String never shows a password.
			c.s.log.Debug("received", "packet", p.String())
		}
		if err := c.dispatch(cn, p); err != nil {
			cn.fail(err)
			return
		}
	}
}

// dispatch hands one packet to its flow.
func (c *Client) dispatch(cn *conn, p packets.Packet) error {
	switch p := p.(type) {
	case *packets.Pingresp:
	case *packets.Publish:
		return c.in.receive(cn, p)
	case *packets.Pubrel:
		c.in.release(cn, p.PacketID)
	case *packets.Puback:
		c.post(op{kind: opPuback, id: p.PacketID, epoch: cn.epoch})
	case *packets.Pubrec:
		c.post(op{kind: opPubrec, id: p.PacketID, epoch: cn.epoch})
	case *packets.Pubcomp:
		c.post(op{kind: opPubcomp, id: p.PacketID, epoch: cn.epoch})
	case *packets.Suback:
		id, codes := p.PacketID, append([]packets.SubackCode(nil), p.ReturnCodes...)
		c.post(op{fn: func(s *session) { s.onSuback(cn, id, codes) }})
	case *packets.Unsuback:
		id := p.PacketID
		c.post(op{fn: func(s *session) { s.onUnsuback(cn, id) }})
	default:
		// CONNACK again, or a packet only clients send (MQTT-4.8.0-1).
		return fmt.Errorf("%w: broker sent %s", ErrProtocolViolation, p.Type())
	}
	return nil
}

// readError names what went wrong with the stream.
func readError(err error) error {
	var pe *packets.Error
	if errors.As(err, &pe) {
		// A malformed packet closes the connection (MQTT-4.8.0-1).
		return fmt.Errorf("client: malformed packet from the broker: %w", err)
	}
	return fmt.Errorf("client: reading from the broker: %w", err)
}

func debugEnabled(l *slog.Logger) bool { return l.Enabled(context.Background(), slog.LevelDebug) }

// signal wakes the owner of a capacity-1 channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
