package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// Protocol revisions a client can speak.
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
	DefaultMaxInflight    = 32
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
	// treats the link as dead and reconnects. Zero: DefaultPingTimeout.
	PingTimeout time.Duration

	// ConnectTimeout bounds dialling, the TLS and WebSocket handshakes, and
	// the wait for CONNACK. Zero: DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// WriteTimeout bounds one write to the network. Zero:
	// DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Protocol is MQTT311 (the zero value selects it) or MQTT31.
	Protocol packets.ProtocolLevel

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
	// acknowledged (the send window). Zero: DefaultMaxInflight.
	MaxInflight int

	// MaxPending bounds the messages accepted and not yet completed:
	// queued while offline or waiting for the send window, plus those in
	// flight. Past it Publish waits for room until its context ends, and
	// PublishAsync returns ErrQueueFull. Zero: DefaultMaxPending.
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
	// ErrSlowConsumer; a dropped QoS 1 or 2 message is not acknowledged, so
	// a persistent session's broker sends it again on a later connection.
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
}

// settings is a Config with defaults applied and URLs parsed.
type settings struct {
	Config
	brokers []*url.URL
	log     *slog.Logger
}

func (cfg Config) settle() (*settings, error) {
	s := &settings{Config: cfg}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("client: Config.Brokers is empty")
	}
	for _, b := range cfg.Brokers {
		u, err := dial.ParseBrokerURL(b)
		if err != nil {
			return nil, err
		}
		s.brokers = append(s.brokers, u)
	}
	if s.Protocol == 0 {
		s.Protocol = MQTT311
	}
	if !s.Protocol.Valid() {
		return nil, fmt.Errorf("client: unsupported protocol level %d", s.Protocol)
	}
	if s.ClientID == "" {
		if s.PersistentSession {
			// MQTT-3.1.3-7, and §3.1.3.1 discourages random identifiers for
			// persistent sessions: they could never be resumed.
			return nil, errors.New("client: a persistent session needs a ClientID (MQTT-3.1.3-7)")
		}
		s.ClientID = randomClientID()
	}
	if s.Protocol == MQTT31 && len(s.ClientID) > 23 {
		return nil, errors.New("client: MQTT 3.1 limits the ClientID to 23 characters")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&s.KeepAlive, DefaultKeepAlive)
	if s.KeepAlive > 65535*time.Second {
		return nil, errors.New("client: KeepAlive exceeds 65535 seconds")
	}
	if s.KeepAlive > 0 && s.KeepAlive < time.Second {
		return nil, errors.New("client: KeepAlive is sent in seconds and must be at least 1s")
	}
	def(&s.PingTimeout, DefaultPingTimeout)
	def(&s.ConnectTimeout, DefaultConnectTimeout)
	def(&s.WriteTimeout, DefaultWriteTimeout)
	def(&s.Reconnect.InitialDelay, DefaultInitialDelay)
	def(&s.Reconnect.MaxDelay, DefaultMaxDelay)
	def(&s.Reconnect.StableAfter, DefaultStableAfter)
	def(&s.CloseGrace, DefaultCloseGrace)
	if s.Reconnect.Multiplier == 0 {
		s.Reconnect.Multiplier = 2
	}
	if s.Reconnect.Jitter == 0 {
		s.Reconnect.Jitter = 0.5
	}
	if s.Reconnect.Multiplier < 1 || s.Reconnect.Jitter < 0 || s.Reconnect.Jitter > 1 {
		return nil, errors.New("client: Reconnect needs Multiplier >= 1 and Jitter within 0..1")
	}
	defInt := func(name string, n *int, v int) error {
		if *n == 0 {
			*n = v
		}
		if *n < 0 {
			return fmt.Errorf("client: %s is negative", name)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		n    *int
		v    int
	}{
		{"MaxInflight", &s.MaxInflight, DefaultMaxInflight},
		{"MaxPending", &s.MaxPending, DefaultMaxPending},
		{"MaxPacketSize", &s.MaxPacketSize, DefaultMaxPacketSize},
		{"HandlerQueue", &s.HandlerQueue, DefaultHandlerQueue},
		{"HandlerQueueBytes", &s.HandlerQueueBytes, DefaultHandlerBytes},
	} {
		if err := defInt(f.name, f.n, f.v); err != nil {
			return nil, err
		}
	}
	if s.MaxInflight > 65535 {
		return nil, errors.New("client: MaxInflight exceeds the 65535 packet identifiers")
	}
	if s.MaxPacketSize > packets.MaxRemainingLength {
		return nil, fmt.Errorf("client: MaxPacketSize exceeds %d", packets.MaxRemainingLength)
	}
	if s.Transport.MaxFrameSize == 0 {
		// Bound WebSocket frames by the packet limit, plus the fixed
		// header, since brokers send a packet per frame: a larger frame
		// is refused at its header.
		s.Transport.MaxFrameSize = s.MaxPacketSize + 5
	}
	if w := s.Will; w != nil {
		if err := packets.ValidateTopicName(w.Topic); err != nil {
			return nil, fmt.Errorf("client: will topic: %w", err)
		}
		if !w.QoS.Valid() {
			return nil, fmt.Errorf("client: will QoS %d (MQTT-3.1.2-14)", w.QoS)
		}
	}
	// Build the CONNECT once, so that an invalid field is reported by New.
	if err := s.connectPacket(s.Username, s.Password).Validate(); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// connectPacket builds CONNECT for one attempt (MQTT 3.1.1 §3.1).
func (s *settings) connectPacket(username, password string) *packets.Connect {
	p := &packets.Connect{
		ProtocolName:  "MQTT",
		ProtocolLevel: s.Protocol,
		CleanSession:  !s.PersistentSession,
		ClientID:      s.ClientID,
	}
	if s.Protocol == MQTT31 {
		p.ProtocolName = "MQIsdp"
	}
	if s.KeepAlive > 0 {
		p.KeepAlive = uint16(s.KeepAlive / time.Second)
	}
	if w := s.Will; w != nil {
		p.WillFlag, p.WillTopic, p.WillMessage, p.WillQoS, p.WillRetain = true, w.Topic, w.Payload, w.QoS, w.Retain
	}
	if username != "" || password != "" {
		// A password needs a user name (MQTT-3.1.2-22); an empty one is
		// still a user name.
		p.UsernameFlag, p.Username = true, username
	}
	if password != "" {
		p.PasswordFlag, p.Password = true, []byte(password)
	}
	return p
}

// randomClientID returns an identifier of 23 characters or fewer, the length
// every MQTT 3.1.1 server must accept (§3.1.3.1).
func randomClientID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "feedmq-" + hex.EncodeToString(b[:])
}
