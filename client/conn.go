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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// conn is one accepted network connection.
//
// Packets reach the network in batches: producers (the session, the
// inbound acknowledger, QoS 0 publishers) encode straight into pending under
// mu, in chunks of batchChunk under a burst; the writer goroutine takes the
// whole batch and writes it in one call. The first producer to find no writer running starts one, and the
// writer exits once nothing was queued for writerLinger, so an idle
// connection has none while a busy one keeps its writer. When no writer
// runs, a packet whose sender waits for it anyway (a blocking Publish) is
// written by that goroutine, as far as the socket takes it without
// waiting (writeInline), and only the rest is left to a writer.
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
	level          packets.ProtocolLevel
	server         ServerSettings // the broker's CONNACK limits, or 3.1.x defaults
	ka             *keepalive     // nil when keepalive is off
	plain          bool           // nc is a plain socket, which writeInline can write
	linger         time.Duration  // how long the writer goroutine waits for work: writerLinger
	inlineHook     func()         // tests only: runs as writeInline starts writing; nil
	tracing        bool           // packets go to the debug log or Config.OnPacket

	// Read loop only.
	aliasIn []string // inbound topic aliases, indexed by alias; made on first use

	aliasOut map[string]uint16 // outbound topic aliases; guarded by mu

	// unacked counts inbound QoS 1 and 2 messages not yet answered with
	// PUBACK or PUBCOMP, against Config.MQTT5.ReceiveMaximum.
	unacked atomic.Int32

	reauth atomic.Pointer[reauth] // a re-authentication in progress

	mu       sync.Mutex // guards the fields below; never held across I/O
	pending  []byte     // encoded packets the writer has not taken yet, after those in full
	full     [][]byte   // chunks of a burst set aside before pending, in order (batchChunk)
	spare    [][]byte   // written chunks, emptied, for reuse while the writer runs
	waiters  []*outMsg  // PUBLISHes in pending, told when it is written
	sentDisc chan struct{}
	final    bool      // DISCONNECT queued: nothing may follow (MQTT-3.14.4-2)
	cause    error     // why abort queued DISCONNECT; nil when Disconnect did
	ended    bool      // no more writes: err says why
	writing  bool      // a writer goroutine runs, writing or waiting for work
	busy     bool      // a write is under way, the writer's or a writeInline
	side     []byte    // writeInline's spare for pending
	sideWait []*outMsg // writeInline's spare for waiters

	// writeInline's writer, made on first use so that a connection that
	// never writes inline does not carry it; only a writeInline (one at
	// a time, see busy) touches it.
	sock *sockWriter

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

// beginAppend locks the connection for a producer that appends to pending
// a packet of about need bytes, unless the connection takes no more: then
// it returns why, unlocked.
func (cn *conn) beginAppend(need int) (wasEmpty bool, err error) {
	cn.mu.Lock()
	if cn.ended || cn.final {
		err = cn.err
		cn.mu.Unlock()
		if err == nil {
			err = errConnEnded
		}
		return false, err
	}
	wasEmpty = len(cn.pending) == 0 && len(cn.full) == 0
	if len(cn.pending) >= batchChunk/2 && len(cn.pending)+need > cap(cn.pending) {
		// A burst: the chunk is set aside whole and the next one is
		// begun, instead of growing (and copying) one buffer to the
		// size of the burst. Below half a chunk, pending grows as
		// usual, so that light traffic keeps small buffers.
		cn.full = append(cn.full, cn.pending)
		cn.pending = cn.spareChunk()
		if cn.pending == nil {
			cn.pending = make([]byte, 0, max(batchChunk, need))
		}
	}
	return wasEmpty, nil
}

// batchChunk is the size of the chunks a burst is encoded into; the writer
// sends the chunks of a batch with one writev.
const batchChunk = 64 << 10

// maxSpareChunks bounds the written chunks kept for reuse while the writer
// runs.
const maxSpareChunks = 128

// spareChunk returns a written, emptied chunk to append to, or nil when
// there is none. cn.mu is held.
func (cn *conn) spareChunk() []byte {
	n := len(cn.spare)
	if n == 0 {
		return nil
	}
	b := cn.spare[n-1]
	cn.spare[n-1] = nil
	cn.spare = cn.spare[:n-1]
	return b
}

// endAppend unlocks after beginAppend and, when something was appended,
// sees that a writer will take it. When now is set, the caller's goroutine
// is going to wait for what it appended: if the packet is alone and no
// writer goroutine runs, it is written right here as far as the socket
// takes it without waiting, which spares waking one. A running writer
// means traffic, which it batches better than one write per packet.
func (cn *conn) endAppend(wasEmpty, appended, now bool) {
	if appended && now && wasEmpty && !cn.writing && !cn.busy && !cn.final && cn.plain {
		cn.writeInline()
		return
	}
	start := appended && cn.claimWriter(wasEmpty)
	cn.mu.Unlock()
	if start {
		go cn.writeLoop()
	}
}

// send queues any packet. The hot paths use sendAck and sendPublish, which
// do not box their packet.
func (cn *conn) send(p packets.Packet) error {
	if cn.tracing {
		cn.c.trace(true, p)
	}
	wasEmpty, err := cn.beginAppend(0)
	if err != nil {
		return err
	}
	// Within the broker's Maximum Packet Size (MQTT5-3.2.2-15): DISCONNECT
	// and AUTH drop their Reason String and User Properties to fit, any
	// other packet over it is an error.
	cn.pending, err = packets.AppendWithin(cn.pending, p, cn.level, cn.server.MaximumPacketSize)
	cn.endAppend(wasEmpty, err == nil, false)
	return err
}

// maxAckSize bounds the encoding of an acknowledgment sendAckCode queues:
// fixed header, packet identifier and reason code.
const maxAckSize = 5

// sendAck queues PUBACK, PUBREC, PUBREL or PUBCOMP without allocating.
func (cn *conn) sendAck(t packets.Type, id uint16) error {
	return cn.sendAckCode(t, id, packets.ReasonSuccess, false)
}

// sendAckCode is sendAck with a 5.0 reason code (at 3.1.x code is 0), and
// now as endAppend takes it.
func (cn *conn) sendAckCode(t packets.Type, id uint16, code packets.ReasonCode, now bool) error {
	if cn.tracing {
		// Boxed only for the trace: the hot path does not allocate.
		cn.c.trace(true, ackPacket(t, id, code))
	}
	wasEmpty, err := cn.beginAppend(maxAckSize)
	if err != nil {
		return err
	}
	switch t {
	case packets.TypePuback:
		p := packets.Puback{PacketID: id, ReasonCode: code}
		cn.pending, _ = p.AppendVersion(cn.pending, cn.level)
	case packets.TypePubrec:
		p := packets.Pubrec{PacketID: id, ReasonCode: code}
		cn.pending, _ = p.AppendVersion(cn.pending, cn.level)
	case packets.TypePubrel:
		p := packets.Pubrel{PacketID: id, ReasonCode: code}
		cn.pending, _ = p.AppendVersion(cn.pending, cn.level)
	case packets.TypePubcomp:
		p := packets.Pubcomp{PacketID: id, ReasonCode: code}
		cn.pending, _ = p.AppendVersion(cn.pending, cn.level)
	}
	cn.endAppend(wasEmpty, true, now)
	if t == packets.TypePuback {
		cn.quotaFreed()
	}
	return nil
}

// quotaTaken counts an inbound QoS 1 or 2 message against our Receive
// Maximum and reports whether the broker went past it (MQTT5-3.3.4-9).
// Without a limit nothing is counted, so 3.1.1 pays nothing.
func (cn *conn) quotaTaken() bool {
	limit := cn.c.s.MQTT5.ReceiveMaximum
	return limit > 0 && cn.unacked.Add(1) > int32(limit)
}

// quotaFreed gives back what quotaTaken counted, once the message was
// answered with PUBACK, PUBCOMP or a refusing PUBREC.
func (cn *conn) quotaFreed() {
	if cn.c.s.MQTT5.ReceiveMaximum > 0 {
		cn.unacked.Add(-1)
	}
}

// ackPacket builds an acknowledgment as a Packet, for the trace.
func ackPacket(t packets.Type, id uint16, code packets.ReasonCode) packets.Packet {
	switch t {
	case packets.TypePuback:
		return &packets.Puback{PacketID: id, ReasonCode: code}
	case packets.TypePubrec:
		return &packets.Pubrec{PacketID: id, ReasonCode: code}
	case packets.TypePubrel:
		return &packets.Pubrel{PacketID: id, ReasonCode: code}
	default:
		return &packets.Pubcomp{PacketID: id, ReasonCode: code}
	}
}

// sendPublish queues m's PUBLISH (now: see endAppend). Once the batch
// holding it is written, a QoS 0 message completes (or fails with the
// write's error) and a QoS 1 or 2 message is marked written, so that only
// a PUBLISH that really left is resent with DUP set (MQTT-3.3.1-1):
// brokers treat a DUP PUBLISH they do not know differently from a new one.
func (cn *conn) sendPublish(m *outMsg, now bool) error {
	if cn.tracing {
		cn.c.trace(true, &m.pub)
	}
	// The topic, payload and header; properties may take more, which
	// append then grows the chunk for.
	wasEmpty, err := cn.beginAppend(len(m.pub.TopicName) + len(m.pub.Payload) + 16)
	if err != nil {
		return err
	}
	if cn.level == MQTT5 {
		cn.pending, err = cn.appendPublish5(&m.pub)
	} else {
		cn.pending, err = m.pub.Append(cn.pending)
	}
	if err == nil {
		cn.waiters = append(cn.waiters, m)
	}
	cn.endAppend(wasEmpty, err == nil, now)
	return err
}

// appendPublish5 encodes a 5.0 PUBLISH, with a topic alias in place of the
// topic when Config.MQTT5.TopicAliases is on and the broker allows one
// (MQTT 5.0 §3.3.2.3.4). The message keeps its full topic: aliases belong
// to this connection only, and the first use of one carries the topic.
// cn.mu is held.
func (cn *conn) appendPublish5(p *packets.Publish) ([]byte, error) {
	if !cn.c.s.MQTT5.TopicAliases || cn.server.TopicAliasMaximum == 0 {
		return p.AppendVersion(cn.pending, MQTT5)
	}
	alias, known := cn.aliasOut[p.TopicName]
	if !known && len(cn.aliasOut) < int(cn.server.TopicAliasMaximum) {
		alias = uint16(len(cn.aliasOut) + 1)
	}
	if alias == 0 {
		return p.AppendVersion(cn.pending, MQTT5) // aliases used up: the full topic
	}
	q := *p
	var ps packets.Properties
	if p.Properties != nil {
		ps = *p.Properties
	}
	ps.SetTopicAlias(alias)
	q.Properties = &ps
	if known {
		q.TopicName = ""
	}
	if limit := cn.server.MaximumPacketSize; limit > 0 && q.SizeVersion(MQTT5) > limit {
		// The alias property would push a packet that admits let through
		// over the broker's limit (MQTT5-3.2.2-15): send the topic, and
		// keep the alias for a packet it fits.
		return p.AppendVersion(cn.pending, MQTT5)
	}
	if !known {
		if cn.aliasOut == nil {
			cn.aliasOut = map[string]uint16{}
		}
		cn.aliasOut[p.TopicName] = alias
	}
	return q.AppendVersion(cn.pending, MQTT5)
}

// sendDisconnect queues DISCONNECT as the connection's last packet and
// returns a channel closed once it was written or could not be. At 5.0 p
// carries the reason code and properties; nil sends a normal
// disconnection.
func (cn *conn) sendDisconnect(p *packets.Disconnect) <-chan struct{} {
	sent := make(chan struct{})
	if p == nil {
		p = &packets.Disconnect{}
	}
	if cn.tracing {
		cn.c.trace(true, p)
	}
	wasEmpty, err := cn.beginAppend(0)
	if err == nil {
		cn.pending, err = packets.AppendWithin(cn.pending, p, cn.level, cn.server.MaximumPacketSize)
		if err == nil {
			cn.final, cn.sentDisc = true, sent
		}
		cn.endAppend(wasEmpty, err == nil, false)
	}
	if err != nil {
		close(sent)
	}
	return sent
}

// trace reports a packet sent or received to the debug log and to
// Config.OnPacket. Connections call it only when tracing is set, so that
// without either the hot paths neither box a packet nor call String.
func (c *Client) trace(sent bool, p packets.Packet) {
	if debugEnabled(c.s.log) {
		// String never shows a password.
		if sent {
			c.s.log.Debug("sent", "packet", p.String())
		} else {
			c.s.log.Debug("received", "packet", p.String())
		}
	}
	if fn := c.s.OnPacket; fn != nil {
		fn(sent, p)
	}
}

// readBufferSize is the resting size of a connection's read buffer, which
// grows to 64 KiB under a flood and comes back when the connection quietens
// (packets.Reader). 1 KiB would save an idle connection 3 KiB, but cost a
// third of the receive throughput at 64 B and 4 KiB payloads (measured with
// bench/client SinkReceive).
const readBufferSize = 4096

// readLoop reads packets and hands each to its flow until the connection
// ends. It never runs user code; it stops reading only while handlers are
// over their budget (backpressure).
func (cn *conn) readLoop() {
	c := cn.c
	r := packets.NewReaderSize(cn.nc, readBufferSize)
	r.SetProtocol(cn.level)
	r.SetMaxPacketSize(c.s.MaxPacketSize)
	// A 3.1.1 broker was never told the limit, so a PUBLISH over it is
	// skipped and acknowledged; a 5.0 broker was, in CONNECT's Maximum
	// Packet Size, and breaks a rule by sending one: DISCONNECT 0x95.
	r.SetSkipOversizePublish(cn.level != MQTT5)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			err = c.in.skipped(cn, err)
		}
		if err != nil {
			cn.abort(readError(err))
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
		if cn.tracing {
			c.trace(false, p)
		}
		if err := c.dispatch(cn, p); err != nil {
			cn.abort(err)
			return
		}
	}
}

// abort ends the connection because of err. At 5.0 the broker is told why
// first, with a DISCONNECT whose reason code says whether its packet was
// malformed (0x81) or broke a rule (0x82, or a more precise code), unless
// the broker itself disconnected (MQTT5-4.13.1-1).
func (cn *conn) abort(err error) {
	if cn.level == MQTT5 {
		var re *ReasonError
		if code := disconnectReason(err); code != 0 && !(errors.As(err, &re) && re.Packet == packets.TypeDisconnect) {
			// The connection ends with err, not with the writer's
			// errDisconnected, so that OnConnectionLost says why.
			cn.mu.Lock()
			cn.cause = err
			cn.mu.Unlock()
			sent := cn.sendDisconnect(&packets.Disconnect{ReasonCode: code})
			t := time.NewTimer(closeWriteWait)
			select {
			case <-sent:
			case <-t.C:
			case <-cn.done:
			}
			t.Stop()
		}
	}
	cn.fail(err)
}

// disconnectReason picks the DISCONNECT reason code for an error that ends
// a 5.0 connection; 0 when the connection simply broke.
func disconnectReason(err error) packets.ReasonCode {
	var pe *packets.Error
	var v *violation
	switch {
	case errors.As(err, &v):
		return v.code
	case errors.Is(err, packets.ErrTooLarge):
		return packets.ReasonPacketTooLarge
	case errors.As(err, &pe):
		if pe.Field == "Properties.TopicAlias" {
			// The codec refuses alias 0 as a protocol error; MQTT 5.0
			// §3.3.2.3.4 names the code for it: Topic Alias invalid.
			return packets.ReasonTopicAliasInvalid
		}
		if pe.Code != 0 {
			return pe.Code
		}
		return packets.ReasonMalformedPacket
	case errors.Is(err, ErrProtocolViolation):
		return packets.ReasonProtocolError
	}
	return 0
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
		c.postAck(cn, opPuback, p.PacketID, p.ReasonCode, p.Properties)
	case *packets.Pubrec:
		c.postAck(cn, opPubrec, p.PacketID, p.ReasonCode, p.Properties)
	case *packets.Pubcomp:
		c.post(op{kind: opPubcomp, id: p.PacketID, epoch: cn.epoch})
	case *packets.Suback:
		id, codes, reason := p.PacketID, subackCodes(p), reasonString(p.Properties)
		c.post(op{fn: func(s *session) { s.onSuback(cn, id, codes, reason) }})
	case *packets.Unsuback:
		id, codes, reason := p.PacketID, slices.Clone(p.ReasonCodes), reasonString(p.Properties)
		c.post(op{fn: func(s *session) { s.onUnsuback(cn, id, codes, reason) }})
	case *packets.Auth:
		return cn.onAuth(p)
	case *packets.Disconnect:
		if cn.level != MQTT5 {
			return fmt.Errorf("%w: broker sent DISCONNECT (MQTT-4.8.0-1)", ErrProtocolViolation)
		}
		re := &ReasonError{Packet: packets.TypeDisconnect, Code: p.ReasonCode, Reason: reasonString(p.Properties)}
		if p.Properties != nil {
			re.ServerReference = p.Properties.ServerReference
		}
		return re
	default:
		// CONNACK again, or a packet only clients send (MQTT-4.8.0-1).
		return fmt.Errorf("%w: broker sent %s", ErrProtocolViolation, p.Type())
	}
	return nil
}

// postAck hands PUBACK or PUBREC to the session. A 5.0 failure code comes
// with the broker's reason string, so it travels as a closure; success,
// the common case, does not allocate.
func (c *Client) postAck(cn *conn, kind opKind, id uint16, code packets.ReasonCode, ps *packets.Properties) {
	if code < 0x80 {
		c.post(op{kind: kind, id: id, code: code, epoch: cn.epoch})
		return
	}
	t := packets.TypePuback
	if kind == opPubrec {
		t = packets.TypePubrec
	}
	re := &ReasonError{Packet: t, Code: code, Reason: reasonString(ps)}
	epoch := cn.epoch
	c.post(op{fn: func(s *session) { s.onRefused(epoch, id, re) }})
}

// subackCodes reads a SUBACK's codes at either level as SubackCodes: the
// granted QoS, or 0x80 and above for a refusal.
func subackCodes(p *packets.Suback) []packets.SubackCode {
	if p.ReasonCodes == nil {
		return slices.Clone(p.ReturnCodes)
	}
	codes := make([]packets.SubackCode, len(p.ReasonCodes))
	for i, rc := range p.ReasonCodes {
		codes[i] = packets.SubackCode(rc)
	}
	return codes
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
