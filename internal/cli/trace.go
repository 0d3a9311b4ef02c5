package cli

import (
	"io"
	"strconv"
	"sync"

	"github.com/feedmq/feedmq/packets"
)

// Trace prints the packet trace of -d as mosquitto_pub and mosquitto_sub
// 2.0 print it on stdout: one line per packet, in libmosquitto's words
// ("Client <id> sending PUBLISH (d0, q1, r0, m1, 'topic', ... (5 bytes))"),
// and for mqtt-sub, after each SUBACK, mosquitto_sub's "Subscribed (mid:
// <id>): <granted QoS>, …". Its Packet is the client's Config.OnPacket.
//
// <id> is the client identifier the CONNECT carried, "(null)" when it was
// empty, and at MQTT 5.0 the one the broker assigned from its CONNACK on,
// as libmosquitto prints its own. A QoS 0 PUBLISH has no packet
// identifier; Trace numbers it after the last identifier sent, as
// libmosquitto's message counter does. A CONNECT prints no field, so the
// password never shows; nor does an AUTH sent, which libmosquitto does not
// log either.
type Trace struct {
	w          io.Writer // shared with the messages of mqtt-sub
	subscribed bool      // print "Subscribed (mid: …)" after a SUBACK

	mu    sync.Mutex // guards the fields below; held while writing a line
	id    string
	level packets.ProtocolLevel
	mid   uint16 // the last packet identifier sent, for QoS 0 PUBLISH
	buf   []byte
}

// NewTrace returns a Trace writing to w, which must take whole lines from
// several goroutines (a SyncWriter). With subscribed, each SUBACK is
// followed by mosquitto_sub's "Subscribed" line.
func NewTrace(w io.Writer, subscribed bool) *Trace {
	return &Trace{w: w, subscribed: subscribed}
}

// Packet prints the line of one packet sent or received. It is safe for
// concurrent use and writes each packet's lines in one Write.
func (t *Trace) Packet(sent bool, p packets.Packet) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf[:0]
	if sent {
		b = t.appendSent(b, p)
	} else {
		b = t.appendReceived(b, p)
	}
	if len(b) > 0 {
		t.w.Write(b)
	}
	if cap(b) <= 4096 {
		t.buf = b
	}
}

// client appends "Client <id> ".
func (t *Trace) client(b []byte) []byte {
	b = append(b, "Client "...)
	if t.id == "" {
		b = append(b, "(null)"...)
	} else {
		b = append(b, t.id...)
	}
	return append(b, ' ')
}

// appendSent appends the lines of libmosquitto's send__* functions.
func (t *Trace) appendSent(b []byte, p packets.Packet) []byte {
	switch p := p.(type) {
	case *packets.Connect:
		t.id, t.level = p.ClientID, p.ProtocolLevel
		b = append(t.client(b), "sending CONNECT\n"...)
	case *packets.Publish:
		mid := p.PacketID
		if p.QoS == packets.AtMostOnce {
			t.mid++
			mid = t.mid
		} else {
			t.mid = mid
		}
		b = appendPublish(append(t.client(b), "sending "...), p, mid)
	case *packets.Puback:
		b = appendAckSent(t.client(b), "PUBACK", p.PacketID, int(p.ReasonCode), true)
	case *packets.Pubrec:
		b = appendAckSent(t.client(b), "PUBREC", p.PacketID, int(p.ReasonCode), true)
	case *packets.Pubrel:
		b = appendAckSent(t.client(b), "PUBREL", p.PacketID, 0, false)
	case *packets.Pubcomp:
		b = appendAckSent(t.client(b), "PUBCOMP", p.PacketID, 0, false)
	case *packets.Subscribe:
		// One line per filter, all with the packet's identifier.
		t.mid = p.PacketID
		for _, s := range p.Subscriptions {
			b = append(t.client(b), "sending SUBSCRIBE (Mid: "...)
			b = strconv.AppendUint(b, uint64(p.PacketID), 10)
			b = append(b, ", Topic: "...)
			b = append(b, s.TopicFilter...)
			b = append(b, ", QoS: "...)
			b = strconv.AppendUint(b, uint64(s.QoS), 10)
			b = append(b, ", Options: 0x"...)
			opts := byte(s.RetainHandling) << 4
			if s.RetainAsPublished {
				opts |= 0x08
			}
			if s.NoLocal {
				opts |= 0x04
			}
			b = append(b, hex[opts>>4], hex[opts&0x0f], ')', '\n')
		}
	case *packets.Unsubscribe:
		t.mid = p.PacketID
		for _, f := range p.TopicFilters {
			b = append(t.client(b), "sending UNSUBSCRIBE (Mid: "...)
			b = strconv.AppendUint(b, uint64(p.PacketID), 10)
			b = append(b, ", Topic: "...)
			b = append(b, f...)
			b = append(b, ")\n"...)
		}
	case *packets.Pingreq:
		b = append(t.client(b), "sending PINGREQ\n"...)
	case *packets.Disconnect:
		b = append(t.client(b), "sending DISCONNECT\n"...)
	}
	return b
}

// appendReceived appends the lines of libmosquitto's handle__* functions.
func (t *Trace) appendReceived(b []byte, p packets.Packet) []byte {
	switch p := p.(type) {
	case *packets.Connack:
		code := int(p.ReturnCode)
		if t.level == packets.ProtocolMQTT5 {
			code = int(p.ReasonCode)
			if ps := p.Properties; ps != nil && ps.Present.Has(packets.PropAssignedClientIdentifier) {
				t.id = ps.AssignedClientIdentifier
			}
		}
		b = append(t.client(b), "received CONNACK ("...)
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, ")\n"...)
	case *packets.Publish:
		b = appendPublish(append(t.client(b), "received "...), p, p.PacketID)
	case *packets.Puback:
		b = appendAckReceived(t.client(b), "PUBACK", p.PacketID, int(p.ReasonCode), true)
	case *packets.Pubrec:
		b = appendAckReceived(t.client(b), "PUBREC", p.PacketID, 0, false)
	case *packets.Pubrel:
		b = appendAckReceived(t.client(b), "PUBREL", p.PacketID, 0, false)
	case *packets.Pubcomp:
		b = appendAckReceived(t.client(b), "PUBCOMP", p.PacketID, int(p.ReasonCode), true)
	case *packets.Suback:
		b = append(t.client(b), "received SUBACK\n"...)
		if t.subscribed {
			// mosquitto_sub's subscribe callback: the granted QoS, or at
			// 5.0 the reason codes.
			b = append(b, "Subscribed (mid: "...)
			b = strconv.AppendUint(b, uint64(p.PacketID), 10)
			b = append(b, "): "...)
			for i, c := range p.ReturnCodes {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = strconv.AppendUint(b, uint64(c), 10)
			}
			for i, c := range p.ReasonCodes {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = strconv.AppendUint(b, uint64(c), 10)
			}
			b = append(b, '\n')
		}
	case *packets.Unsuback:
		b = append(t.client(b), "received UNSUBACK\n"...)
	case *packets.Pingresp:
		b = append(t.client(b), "received PINGRESP\n"...)
	case *packets.Disconnect:
		// libmosquitto's only line without the client identifier.
		b = append(b, "Received DISCONNECT ("...)
		b = strconv.AppendUint(b, uint64(p.ReasonCode), 10)
		b = append(b, ")\n"...)
	case *packets.Auth:
		b = append(t.client(b), "received AUTH\n"...)
	}
	return b
}

const hex = "0123456789abcdef"

// appendPublish appends "PUBLISH (d0, q1, r0, m1, 'topic', ... (5 bytes))".
func appendPublish(b []byte, p *packets.Publish, mid uint16) []byte {
	b = append(b, "PUBLISH (d"...)
	b = appendBit(b, p.Dup)
	b = append(b, ", q"...)
	b = strconv.AppendUint(b, uint64(p.QoS), 10)
	b = append(b, ", r"...)
	b = appendBit(b, p.Retain)
	b = append(b, ", m"...)
	b = strconv.AppendUint(b, uint64(mid), 10)
	b = append(b, ", '"...)
	b = append(b, p.TopicName...)
	b = append(b, "', ... ("...)
	b = strconv.AppendInt(b, int64(len(p.Payload)), 10)
	return append(b, " bytes))\n"...)
}

// appendAckSent appends "sending PUBACK (m1, rc0)" or "sending PUBREL (m1)".
func appendAckSent(b []byte, name string, id uint16, code int, withCode bool) []byte {
	b = append(b, "sending "...)
	b = append(b, name...)
	b = append(b, " (m"...)
	b = strconv.AppendUint(b, uint64(id), 10)
	if withCode {
		b = append(b, ", rc"...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, ")\n"...)
}

// appendAckReceived appends "received PUBACK (Mid: 1, RC:0)" or "received
// PUBREC (Mid: 1)".
func appendAckReceived(b []byte, name string, id uint16, code int, withCode bool) []byte {
	b = append(b, "received "...)
	b = append(b, name...)
	b = append(b, " (Mid: "...)
	b = strconv.AppendUint(b, uint64(id), 10)
	if withCode {
		b = append(b, ", RC:"...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, ")\n"...)
}

func appendBit(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}
