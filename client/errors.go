// errors.go holds the errors the client returns and reports: sentinels to
// test with errors.Is, and ConnectError.
package client

import (
	"errors"
	"fmt"

	"github.com/feedmq/feedmq/packets"
)

// Errors that say what happened to a message or a call. Publish errors fall
// in three groups, told apart with errors.Is:
//
//   - not sent: ErrNotConnected, ErrQueueFull, ErrClosed before the message
//     was accepted, or a validation error wrapping packets.ErrMalformed;
//   - stored, still being delivered: ErrDeliveryPending (the caller's context
//     ended, delivery goes on in the background);
//   - abandoned: ErrAbandoned (the client stopped before the broker
//     acknowledged a message it could not keep; with a file store the message
//     stays stored and a client opened on the same store resends it).
var (
	// ErrClosed is returned by calls on a client that was closed or
	// disconnected.
	ErrClosed = errors.New("client: closed")

	// ErrNotConnected is returned for a QoS 0 publish while there is no
	// connection and Config.QueueQoS0 is off. The message was not sent.
	ErrNotConnected = errors.New("client: not connected")

	// ErrQueueFull is returned when Config.MaxPending messages are already
	// waiting; the message was not accepted.
	ErrQueueFull = errors.New("client: publish queue full")

	// ErrDeliveryPending means the message is stored and the client keeps
	// delivering it, but the caller stopped waiting.
	ErrDeliveryPending = errors.New("client: message stored, delivery continues")

	// ErrAbandoned means the client stopped before the flow completed.
	ErrAbandoned = errors.New("client: stopped before the broker acknowledged the message")

	// ErrConnectionLost is the outcome of a QoS 0 message that was still
	// queued for a connection that broke: it was not sent.
	ErrConnectionLost = errors.New("client: connection lost")

	// ErrPingTimeout reports a broker that did not answer PINGREQ within
	// Config.PingTimeout: the link is considered dead (MQTT 3.1.1 §3.1.2.10).
	ErrPingTimeout = errors.New("client: no PINGRESP within the ping timeout")

	// ErrConnackTimeout reports a broker that did not answer CONNECT in time
	// (MQTT 3.1.1 §3.1.4).
	ErrConnackTimeout = errors.New("client: no CONNACK within the connect timeout")

	// ErrProtocolViolation reports a packet the broker must not send, such as
	// a second CONNACK or a SUBACK for an unknown request (MQTT-4.8.0-1).
	ErrProtocolViolation = errors.New("client: protocol violation by the broker")

	// ErrSlowConsumer reports a message dropped because handlers had spent
	// the delivery budget and Config.SlowConsumer is DropNew (by default the
	// client stops reading instead, and drops nothing). A dropped QoS 0
	// message is gone; a QoS 1 or 2 message was not acknowledged, so the
	// broker delivers it again on a later connection of a persistent
	// session.
	ErrSlowConsumer = errors.New("client: handlers behind, message dropped")

	// ErrQoSDowngraded is the outcome of a QoS 2 message the broker
	// answered with PUBACK, as brokers that support QoS 1 at most do
	// (RabbitMQ): the broker took the message at QoS 1, so it may be
	// delivered more than once, and the flow ended at once.
	ErrQoSDowngraded = errors.New("client: the broker acknowledged a QoS 2 message with PUBACK (QoS 1)")

	// ErrMessageTooLarge reports, through Config.OnError, a message over
	// Config.MaxPacketSize: it was skipped without being read into memory
	// and acknowledged, so that the broker does not send it again; the
	// error names its topic, QoS and size.
	ErrMessageTooLarge = errors.New("client: message over MaxPacketSize skipped")

	// ErrSubscriptionRefused reports a SUBACK failure code (0x80); see
	// SubscribeError.
	ErrSubscriptionRefused = errors.New("client: subscription refused by the broker")
)

// ConnectError is a CONNACK refusal: a return code of 1 to 5 at 3.1.x
// (MQTT 3.1.1 §3.2.2.3), a reason code of 0x80 or above at 5.0 (MQTT 5.0
// §3.2.2.2). At 5.0 it unwraps to a *ReasonError, so errors.Is(err,
// ErrNotAuthorized) works at both levels for the refusals they share.
type ConnectError struct {
	Code   packets.ConnackCode // 3.1.x; 0 at 5.0
	Broker string              // broker URL without credentials
	// Reason is the 5.0 reason code, with the broker's Reason String and
	// Server Reference; nil at 3.1.x.
	Reason *ReasonError
}

// connectRefusal returns the refusal a CONNACK carries, or nil.
func connectRefusal(ack *packets.Connack, broker string) error {
	if ack.ReasonCode >= 0x80 {
		re := &ReasonError{Packet: packets.TypeConnack, Code: ack.ReasonCode, Reason: reasonString(ack.Properties)}
		if ack.Properties != nil {
			re.ServerReference = ack.Properties.ServerReference
		}
		return &ConnectError{Broker: broker, Reason: re}
	}
	if ack.ReturnCode != packets.ConnackAccepted {
		return &ConnectError{Code: ack.ReturnCode, Broker: broker}
	}
	return nil
}

// Error names the broker (without credentials) and the return code.
func (e *ConnectError) Error() string {
	if e.Reason != nil {
		return fmt.Sprintf("client: %s refused the connection: %s", e.Broker, e.Reason.Error()[len("client: "):])
	}
	return fmt.Sprintf("client: %s refused the connection: %s (return code %d)", e.Broker, e.Code, uint8(e.Code))
}

// Unwrap returns the 5.0 reason, or the sentinel matching a 3.1.x return
// code of 4 or 5, so that errors.Is reads the same at every level.
func (e *ConnectError) Unwrap() error {
	switch {
	case e.Reason != nil:
		return e.Reason
	case e.Code == packets.ConnackBadUsernameOrPassword:
		return ErrBadUserNameOrPassword
	case e.Code == packets.ConnackNotAuthorized:
		return ErrNotAuthorized
	}
	return nil
}

// Permanent reports whether retrying with the same settings cannot succeed:
// bad credentials, not authorized, banned, a protocol version or client
// identifier or authentication method the broker refuses.
func (e *ConnectError) Permanent() bool {
	if e.Reason != nil {
		switch e.Reason.Code {
		case packets.ReasonUnsupportedProtocolVersion, packets.ReasonClientIdentifierNotValid,
			packets.ReasonBadUserNameOrPassword, packets.ReasonNotAuthorized, packets.ReasonBanned,
			packets.ReasonBadAuthenticationMethod:
			return true
		}
		return false
	}
	return e.Code == packets.ConnackBadUsernameOrPassword || e.Code == packets.ConnackNotAuthorized
}
