// conn.go holds one network connection: the batched write side and its
// writer goroutine, and the read loop that hands each packet to its flow.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

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

// queue runs encode under the lock unless the connection can take no more,
// and wakes the writer. It reports whether encode ran.
func (cn *conn) queue(encode func() error) error {
	cn.mu.Lock()
	if cn.ended || cn.final {
		err := cn.err
		cn.mu.Unlock()
		if err == nil {
			err = errConnEnded
		}
		return err
	}
	wasEmpty := len(cn.pending) == 0
	err := encode()
	start := err == nil && cn.claimWriter(wasEmpty)
	cn.mu.Unlock()
	if start {
		go cn.writeLoop()
	}
	return err
}

// claimWriter reports whether the caller must start the writer, and marks
// it running. A writer already running is woken when pending was empty,
// since it waits only when it found pending empty; otherwise it takes what
// was added with the rest, and a burst costs no channel operation per
// packet. cn.mu is held.
func (cn *conn) claimWriter(wasEmpty bool) bool {
	if cn.writing {
		if wasEmpty {
			signal(cn.wake)
		}
		return false
	}
	cn.writing = true
	cn.writers.Add(1)
	return true
}

// writerLinger is how long the writer waits for more to write before it
// exits.
const writerLinger = time.Second

// send queues any packet. The hot paths use sendAck and sendPublish, which
// do not box their packet.
func (cn *conn) send(p packets.Packet) error {
	err := cn.queue(func() (err error) {
		cn.pending, err = p.Append(cn.pending)
		return err
	})
	cn.logSent(p, err)
	return err
}

// sendAck queues PUBACK, PUBREC, PUBREL or PUBCOMP without allocating.
func (cn *conn) sendAck(t packets.Type, id uint16) error {
	cn.mu.Lock()
	if cn.ended || cn.final {
		cn.mu.Unlock()
		return errConnEnded
	}
	wasEmpty := len(cn.pending) == 0
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
	start := cn.claimWriter(wasEmpty)
	cn.mu.Unlock()
	if start {
		go cn.writeLoop()
	}
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
	p := &m.pub
	cn.mu.Lock()
	if cn.ended || cn.final {
		cn.mu.Unlock()
		return errConnEnded
	}
	wasEmpty := len(cn.pending) == 0
	var err error
	cn.pending, err = p.Append(cn.pending)
	if err == nil {
		cn.waiters = append(cn.waiters, m)
	}
	start := err == nil && cn.claimWriter(wasEmpty)
	cn.mu.Unlock()
	if start {
		go cn.writeLoop()
	}
	cn.logSent(p, err)
	return err
}

// sendDisconnect queues DISCONNECT as the connection's last packet and
// returns a channel closed once it was written or could not be.
func (cn *conn) sendDisconnect() <-chan struct{} {
	sent := make(chan struct{})
	err := cn.queue(func() (err error) {
		p := packets.Disconnect{}
		cn.pending, err = p.Append(cn.pending)
		cn.final = true
		cn.sentDisc = sent
		return err
	})
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

// writeLoop is the connection's only writer while it runs. It takes the
// whole pending batch and writes it in one call, so under load many
// packets leave in one write; it exits once nothing came for writerLinger.
func (cn *conn) writeLoop() {
	defer cn.writers.Done()
	var buf []byte
	var waiters []*outMsg
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		cn.mu.Lock()
		if cn.ended {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		if len(cn.pending) == 0 {
			cn.mu.Unlock()
			if linger == nil {
				linger = time.NewTimer(writerLinger)
			} else {
				linger.Reset(writerLinger)
			}
			if !cn.waitForWork(linger) {
				return
			}
			continue
		}
		// The two buffers swap and keep their size while traffic lasts:
		// shrinking one here would make the next burst grow it again,
		// copying as it goes. They are let go when the writer exits.
		buf, cn.pending = cn.pending, buf[:0]
		waiters, cn.waiters = cn.waiters, waiters[:0]
		sentDisc := cn.sentDisc
		last := cn.final
		cn.mu.Unlock()
		err := cn.write(buf)
		for i, m := range waiters {
			cn.c.written(m, err)
			waiters[i] = nil
		}
		if err != nil {
			cn.fail(fmt.Errorf("client: writing to the broker: %w", err))
			return
		}
		if last {
			// Nothing may follow DISCONNECT (MQTT-3.14.4-2).
			cn.fail(errDisconnected)
			close(sentDisc)
			cn.mu.Lock()
			cn.sentDisc = nil
			cn.mu.Unlock()
			return
		}
		buf = buf[:0]
	}
}

// waitForWork waits until something is queued, and reports false when the
// writer should exit instead: the connection ended, or nothing came before
// linger fired.
func (cn *conn) waitForWork(linger *time.Timer) bool {
	select {
	case <-cn.wake:
		return true
	case <-cn.done:
	case <-linger.C:
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.pending) > 0 && !cn.ended {
		return true
	}
	cn.writing = false
	cn.pending = shrink(cn.pending)
	return false
}

// write writes one batch within the write timeout.
func (cn *conn) write(b []byte) error {
	cn.nc.SetWriteDeadline(time.Now().Add(cn.c.s.WriteTimeout))
	_, err := cn.nc.Write(b)
	cn.c.stats.bytesOut.Add(int64(len(b)))
	if err == nil && cn.ka != nil {
		cn.ka.sent()
	}
	return err
}

// shrink lets a buffer that grew for a burst go, so an idle connection
// holds little memory.
func shrink(b []byte) []byte {
	if cap(b) > 64<<10 {
		return nil
	}
	return b[:0]
}

// endWaiters fails the messages still waiting on a connection that ended,
// and lets go of its buffers. The connection loop calls it once the writer
// has exited.
func (cn *conn) endWaiters() {
	cn.mu.Lock()
	waiters := cn.waiters
	cn.waiters, cn.pending = nil, nil
	sentDisc := cn.sentDisc
	cn.sentDisc = nil
	cn.mu.Unlock()
	for _, m := range waiters {
		cn.c.written(m, cn.err)
	}
	if sentDisc != nil {
		close(sentDisc)
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
