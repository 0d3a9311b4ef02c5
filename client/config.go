// config.go holds Config, the client's settings as a user writes them,
// with the defaults of its zero values.
package client

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// QoS is the delivery guarantee of a message (MQTT 3.1.1 §4.3).
type QoS = packets.QoS

// The three QoS levels.
const (
	AtMostOnce  = packets.AtMostOnce
	AtLeastOnce = packets.AtLeastOnce
	ExactlyOnce = packets.ExactlyOnce
)

// Protocol revisions a client can speak; MQTT5 is in mqtt5.go.
const (
	MQTT311 = packets.ProtocolMQTT311
	MQTT31  = packets.ProtocolMQTT31
)

// Defaults for the zero values of Config.
const (
	DefaultKeepAlive      = 60 * time.Second
	DefaultPingTimeout    = 10 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultMaxInflight    = 20
	DefaultMaxPending     = 1000
	DefaultMaxPacketSize  = 1 << 20
	DefaultHandlerQueue   = 4096
	DefaultHandlerBytes   = 16 << 20
	DefaultCloseGrace     = time.Second
	DefaultStableAfter    = 10 * time.Second
	DefaultInitialDelay   = time.Second
	DefaultMaxDelay       = 2 * time.Minute
)

// Config configures a Client. The zero value of every field is a working
// default, documented on the field. New validates a Config and does no I/O.
type Config struct {
	// Brokers are the broker URLs, tried in turn on every connection
	// attempt: mqtt:// or tcp:// (port 1883), mqtts://, ssl:// or tls://
	// (8883), ws:// and wss:// (WebSocket), unix:///path. A bare host:port
	// means mqtt://. Credentials in a URL are used when Username is empty.
	Brokers []string

	// ClientID identifies the session (MQTT-3.1.3-2). Empty: a random
	// identifier is generated, which requires a clean session
	// (MQTT-3.1.3-7), so PersistentSession needs an explicit ClientID.
	ClientID string

	// Username and Password authenticate the client. Password is never
	// logged nor included in errors.
	Username string
	Password string

	// Credentials, when set, is called before every connection attempt and
	// overrides Username and Password, so that tokens can rotate.
	Credentials func(ctx context.Context) (username, password string, err error)

	// PersistentSession asks the broker to keep the session across
	// connections (CleanSession=0, MQTT-3.1.2-4). False: a clean session on
	// every connection (MQTT-3.1.2-6).
	PersistentSession bool

	// KeepAlive is the longest gap between two packets the client sends
	// (MQTT-3.1.2-23). Zero: DefaultKeepAlive. Negative: keepalive off.
	// It is sent in whole seconds.
	KeepAlive time.Duration

	// PingTimeout is how long the client waits for PINGRESP before it
	// treats the link as dead and reconnects, so a dead link is found
	// within KeepAlive + PingTimeout however much is being published. While
	// handlers hold the reader back (see HandlerQueue) a PINGRESP may wait
	// unread, so the wait starts again when reading resumes. Zero:
	// DefaultPingTimeout.
	PingTimeout time.Duration

	// ConnectTimeout bounds dialling, the TLS and WebSocket handshakes, and
	// the wait for CONNACK. Zero: DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// WriteTimeout bounds one write to the network; a write that takes
	// longer ends the connection. A dead link is usually found sooner, by
	// keepalive, which does not wait for the writer. Zero:
	// DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Protocol is MQTT311 (the zero value selects it), MQTT31 or MQTT5.
	Protocol packets.ProtocolLevel

	// MQTT5 holds the settings only MQTT 5.0 has; Protocol must be MQTT5
	// for any of them to be set.
	MQTT5 MQTT5Options

	// Will is published by the broker when the connection ends without
	// DISCONNECT. Nil: no will.
	Will *Will

	// Transport holds TLS, WebSocket and proxy settings. Its zero value
	// dials every scheme of Brokers with the defaults documented in
	// package dial.
	Transport dial.Dialer

	// Dial replaces the built-in transports, for gateways with a transport
	// of their own. Nil: Transport.Dial.
	Dial DialFunc

	// Store keeps QoS 1 and 2 state across reconnects and, when it is a
	// file store, across restarts. Nil: an in-memory store. The client does
	// not close it.
	Store store.Store

	// Reconnect shapes the wait between connection attempts.
	Reconnect Backoff

	// ConnectRetry makes Connect retry the first connection with the
	// Reconnect backoff until its context ends, instead of returning the
	// first failure.
	ConnectRetry bool

	// RetryOnAuthFailure keeps reconnecting after CONNACK return codes 4
	// (bad user name or password) and 5 (not authorized). By default these
	// stop the client, since retrying cannot succeed until settings change.
	RetryOnAuthFailure bool

	// MaxInflight bounds the QoS 1 and 2 messages sent and not yet
	// acknowledged (the send window). At 5.0 the broker's Receive Maximum
	// lowers it. At 3.1.x a broker cannot say its limit, and mosquitto 2.0
	// acknowledges a QoS 2 message over its own (max_inflight_messages,
	// 20 by default) and drops it; so the default is 20. Raise it only
	// for a broker known to take more. Zero: DefaultMaxInflight.
	MaxInflight int

	// MaxPending bounds the messages accepted and not yet completed:
	// queued while offline or waiting for the send window, QoS 1 and 2
	// messages in flight, and QoS 0 messages not yet written (so a link
	// that takes no data cannot make memory grow). Past it Publish waits
	// for room until its context ends, and PublishAsync returns
	// ErrQueueFull at once. Zero: DefaultMaxPending.
	MaxPending int

	// QueueQoS0 queues QoS 0 messages published while disconnected (within
	// MaxPending) instead of failing them with ErrNotConnected.
	QueueQoS0 bool

	// MaxPacketSize bounds the packets the client accepts from the broker.
	// A PUBLISH over it is skipped without being read into memory,
	// acknowledged (so the broker does not send it again), counted in
	// Stats.Oversize and reported to OnError with ErrMessageTooLarge; the
	// connection stays up. Any other packet over it closes the connection
	// with an error wrapping packets.ErrTooLarge. Zero:
	// DefaultMaxPacketSize.
	MaxPacketSize int

	// HandlerQueue bounds the messages received and not yet handled,
	// across all subscriptions together (the delivery budget): a message
	// counts from the moment it is read until every handler it went to has
	// returned (or a pull read took it). When the budget is spent the client
	// stops reading from the connection until handlers catch up, so TCP flow
	// control pushes back to the broker, which queues; nothing is dropped
	// and pings go on. One slow subscription therefore delays the others
	// only once the whole budget waits on it. Zero: DefaultHandlerQueue.
	HandlerQueue int

	// HandlerQueueBytes bounds the payload bytes in the delivery budget, as
	// HandlerQueue bounds messages. One message always fits, however large.
	// Zero: DefaultHandlerBytes.
	HandlerQueueBytes int

	// SlowConsumer chooses what happens when the delivery budget is spent:
	// Backpressure (the zero value) stops reading; DropNew drops the
	// message instead, for those who want freshness over completeness.
	// Every drop is counted in Stats.Dropped and reported to OnError with
	// ErrSlowConsumer. At 3.1.x a dropped QoS 1 or 2 message is not
	// acknowledged, so a persistent session's broker sends it again on a
	// later connection; at 5.0 it is refused with reason 0x97 (Quota
	// exceeded), since 5.0 answers every message (MQTT5-4.5.0-2) and an
	// unanswered one would use up the broker's send quota.
	SlowConsumer SlowConsumerPolicy

	// CloseGrace bounds how long Close and Disconnect wait for a handler or
	// hook that is running when they stop the client (and for the one they
	// are called from, which cannot return first). Handlers are never
	// interrupted; none starts after Close returns. Zero:
	// DefaultCloseGrace.
	CloseGrace time.Duration

	// OnConnect is called after every successful CONNACK, on a goroutine of
	// its own; it may call any method of the client.
	OnConnect func(ConnectedEvent)

	// OnConnectionLost is called when an established connection ends for
	// any reason but Disconnect or Close.
	OnConnectionLost func(err error)

	// OnReconnecting is called before each wait between attempts.
	OnReconnecting func(attempt int, delay time.Duration)

	// OnError receives problems no call returns: dropped messages, store
	// failures, feed payloads that do not decode. Nil: they are logged.
	OnError func(err error)

	// OrderedAcks sends PUBACK and PUBREC in the order the messages arrived
	// across all subscriptions (MQTT-4.6.0-2, MQTT-4.6.0-3, read
	// strictly). By default each subscription keeps that order for its
	// own messages and subscriptions do not wait for each other, so a slow
	// handler never holds back another feed's acknowledgments (nor, through
	// the broker's in-flight window, its messages).
	OrderedAcks bool

	// DefaultHandler receives messages no subscription matches. They are
	// acknowledged in any case (MQTT-4.5.0-2).
	DefaultHandler func(*Message)

	// Logger receives the client's log. Nil: nothing is logged.
	Logger *slog.Logger

	// OnPacket, when set, is told of every control packet the client sends
	// (sent true) and receives, CONNECT and CONNACK included, for a packet
	// trace such as mqtt-sub -d prints. A packet to send is reported just
	// before it is queued, so before anything the broker sends in answer
	// to it; one that then cannot be queued (the connection ended, or it is
	// over the broker's Maximum Packet Size) has been reported all the
	// same. A PUBLISH is reported with its topic, before a topic alias
	// replaces it.
	//
	// It is called synchronously on whichever goroutine sends or reads
	// the packet: the client's own (the connection loop, the reader, the
	// session, handler goroutines acknowledging a message) and the
	// caller's (Publish of a QoS 0 message, Disconnect), several at once.
	// It must be safe for concurrent use, must return quickly (the reader
	// and writers wait for it), must not call the Client, and must not
	// retain p nor anything p refers to: a received packet's memory is
	// reused for the next one. A CONNECT carries the password; print it
	// with care. Nil: no trace, at no cost.
	OnPacket func(sent bool, p packets.Packet)
}

// DialFunc opens the byte stream to one broker. The returned connection must
// be ordered, lossless and bidirectional (MQTT-7.1.2-1). Device gateways that
// bring their own transport plug in here; [dial.Dialer.Dial] is the default.
type DialFunc func(ctx context.Context, u *url.URL) (net.Conn, error)

// Will is the last will message (MQTT 3.1.1 §3.1.2.5).
type Will struct {
	Topic   string
	Payload []byte
	QoS     QoS
	Retain  bool
	// Properties are sent at MQTT 5.0 only; New refuses them at 3.1.x.
	Properties *WillProperties
}

// Backoff is the exponential backoff with jitter between connection
// attempts.
type Backoff struct {
	// InitialDelay is the first wait. Zero: DefaultInitialDelay.
	InitialDelay time.Duration
	// MaxDelay caps the wait. Zero: DefaultMaxDelay.
	MaxDelay time.Duration
	// Multiplier grows the wait after each failure. Zero: 2.
	Multiplier float64
	// Jitter randomises each wait by ±Jitter (0 to 1). Zero: 0.5.
	Jitter float64
	// StableAfter is how long a connection must stay up before the next
	// loss starts the backoff from InitialDelay again. A broker that closes
	// every connection right after CONNACK is therefore retried with
	// growing delays, not once a second for ever. Zero: DefaultStableAfter.
	StableAfter time.Duration
	// Disabled turns automatic reconnection off: a lost connection ends
	// the client's work, as with Close.
	Disabled bool
}

// SlowConsumerPolicy is what the client does when handlers fall behind.
type SlowConsumerPolicy int

const (
	// Backpressure stops reading from the connection until handlers catch
	// up. Nothing is lost.
	Backpressure SlowConsumerPolicy = iota
	// DropNew drops a message that arrives while the budget is spent, and
	// reports it.
	DropNew
)

// ConnectedEvent describes an accepted connection.
type ConnectedEvent struct {
	Broker         string // URL, without credentials
	SessionPresent bool   // the broker resumed a stored session
	// Server holds the limits the broker set in CONNACK (MQTT 5.0), or
	// the protocol's defaults at 3.1.x.
	Server ServerSettings
}
