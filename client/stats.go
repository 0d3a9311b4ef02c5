// stats.go holds Stats, a snapshot of the client's counters.
package client

import "sync/atomic"

// Stats is a snapshot of the client's counters.
type Stats struct {
	Connected      bool   // a connection is up
	Connects       uint64 // connections accepted by a broker
	Reconnects     uint64 // waits before a new connection attempt
	MessagesIn     uint64 // PUBLISH packets received
	MessagesOut    uint64 // messages whose flow completed
	BytesIn        uint64 // payload bytes received
	BytesOut       uint64 // bytes written to the network
	PacketsIn      uint64
	PacketsOut     uint64
	Inflight       int    // QoS 1/2 messages on the wire awaiting acknowledgment
	Queued         int    // messages accepted and not yet on the wire
	Buffered       int    // inbound messages received and not yet handled (the delivery budget in use)
	BufferedBytes  int    // their payload bytes
	Dropped        uint64 // inbound messages dropped by SlowConsumer DropNew
	ReadPauses     uint64 // times reading stopped because handlers fell behind
	Oversize       uint64 // inbound PUBLISHes over MaxPacketSize, skipped
	HooksDropped   uint64 // hook calls dropped because hooks fell hopelessly behind
	UnexpectedAcks uint64 // PUBACK, PUBREC or PUBCOMP for no message in flight, ignored
}

type stats struct {
	connected               atomic.Bool
	connects, reconnects    atomic.Uint64
	messagesIn, messagesOut atomic.Uint64
	bytesIn, bytesOut       atomic.Int64
	packetsIn, packetsOut   atomic.Uint64
	inflight, queued        atomic.Int64
	dropped                 atomic.Uint64
	readPauses              atomic.Uint64
	oversize                atomic.Uint64
	hooksDropped            atomic.Uint64
	unexpectedAcks          atomic.Uint64
}

// Stats returns a snapshot of the counters. It never blocks.
func (c *Client) Stats() Stats {
	s := &c.stats
	msgs, bytes := c.delivery.inUse()
	return Stats{
		Buffered:       msgs,
		BufferedBytes:  bytes,
		Connected:      s.connected.Load(),
		Connects:       s.connects.Load(),
		Reconnects:     s.reconnects.Load(),
		MessagesIn:     s.messagesIn.Load(),
		MessagesOut:    s.messagesOut.Load(),
		BytesIn:        uint64(s.bytesIn.Load()),
		BytesOut:       uint64(s.bytesOut.Load()),
		PacketsIn:      s.packetsIn.Load(),
		PacketsOut:     s.packetsOut.Load(),
		Inflight:       int(s.inflight.Load()),
		Queued:         int(s.queued.Load()),
		Dropped:        s.dropped.Load(),
		ReadPauses:     s.readPauses.Load(),
		Oversize:       s.oversize.Load(),
		HooksDropped:   s.hooksDropped.Load(),
		UnexpectedAcks: s.unexpectedAcks.Load(),
	}
}
