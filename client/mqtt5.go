// mqtt5.go holds what MQTT 5.0 adds to the client's API: its settings,
// the limits the server sets in CONNACK, and the properties of a message.
// A 3.1.1 user never needs any of it.
package client

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/packets"
)

// MQTT5 selects MQTT 5.0 in Config.Protocol.
const MQTT5 = packets.ProtocolMQTT5

// UserProperty is a name and value pair an MQTT 5.0 packet carries; any
// number of them, in order, and a name may repeat.
type UserProperty = packets.StringPair

// MQTT5Options holds the settings only MQTT 5.0 has. New refuses any of
// them set when Config.Protocol is not MQTT5.
type MQTT5Options struct {
	// SessionExpiry is how long the broker keeps the session after the
	// connection ends (MQTT 5.0 §3.1.2.11.2). Zero keeps the 3.1.1 meaning
	// of Config.PersistentSession: a persistent session never expires
	// (0xFFFFFFFF), a clean one ends with the connection. A broker may
	// shorten it; ConnectedEvent.Server shows what applies.
	SessionExpiry time.Duration

	// ReceiveMaximum is how many QoS 1 and 2 messages the broker may send
	// before the client has acknowledged them (§3.1.2.11.3). A broker that
	// sends more is disconnected with reason 0x93. Zero: 65,535, the
	// protocol's default, not sent; the delivery budget (HandlerQueue)
	// still applies, through backpressure.
	ReceiveMaximum uint16

	// TopicAliasMaximum is the highest topic alias the broker may use
	// towards the client (§3.1.2.11.5). Aliases are resolved before
	// routing: handlers always see the full topic. Zero: none.
	TopicAliasMaximum uint16

	// TopicAliases lets the client replace repeated topic names by aliases
	// on the wire, within the broker's Topic Alias Maximum. Aliases are
	// chosen per connection, and the first use of one on a connection
	// carries the topic; the store always holds the full topic.
	TopicAliases bool

	// NoAutoSubscriptionIDs stops the client from giving every SUBSCRIBE
	// a Subscription Identifier of its own choosing: only subscriptions
	// made with WithSubscriptionID carry one, and only they are routed by
	// it. For tools that must send exactly what they are told, as mqtt-sub.
	NoAutoSubscriptionIDs bool

	// NoProblemInformation asks the broker not to send Reason Strings and
	// User Properties on failures (Request Problem Information = 0).
	NoProblemInformation bool

	// RequestResponseInformation asks the broker for Response Information
	// in CONNACK (ConnectedEvent.Server.ResponseInformation).
	RequestResponseInformation bool

	// UserProperties are sent in every CONNECT.
	UserProperties []UserProperty

	// OnRedirect is asked where to go when the broker refuses the
	// connection, or ends it, with Use another server (0x9C) or Server
	// moved (0x9D) and a Server Reference (MQTT 5.0 §4.11). It returns the
	// broker URL to try next, or ok false to ignore the redirect. Nil:
	// redirects are ignored, and the Brokers list is tried as usual. At most
	// MaxRedirects redirects are followed in a row, so that two brokers
	// pointing at each other cannot keep the client for ever.
	OnRedirect func(serverReference string) (broker string, ok bool)

	// Authenticator runs enhanced authentication (a challenge and
	// response such as SCRAM) on every connection, and on demand with
	// Client.Reauthenticate. Nil: none; Username and Password still apply.
	Authenticator Authenticator
}

// set reports whether any field is set, which needs MQTT 5.0.
func (o *MQTT5Options) set() bool {
	return o.SessionExpiry != 0 || o.ReceiveMaximum != 0 || o.TopicAliasMaximum != 0 || o.TopicAliases ||
		o.NoProblemInformation || o.RequestResponseInformation || len(o.UserProperties) > 0 || o.Authenticator != nil ||
		o.OnRedirect != nil || o.NoAutoSubscriptionIDs
}

// WillProperties are the MQTT 5.0 properties of a will (§3.1.3.2).
type WillProperties struct {
	// Delay is how long the broker waits after the connection ended before
	// it publishes the will; a reconnection within it cancels the will.
	Delay time.Duration
	// Expiry is the will message's lifetime once published; zero: none.
	Expiry          time.Duration
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	UserProperties  []UserProperty
	// PayloadUTF8 says the payload is UTF-8 text (Payload Format Indicator).
	PayloadUTF8 bool
}

// MessageProperties are the MQTT 5.0 properties of a received message.
type MessageProperties struct {
	// PayloadUTF8 says the sender declared the payload UTF-8 text.
	PayloadUTF8 bool
	// Expiry is what remains of the message's lifetime; zero: none was set.
	Expiry          time.Duration
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	UserProperties  []UserProperty
	// SubscriptionIDs are the identifiers of every subscription of this
	// client that the message matched (MQTT5-3.3.4-3), in the broker's
	// order.
	SubscriptionIDs []uint32
	// TopicAlias is the Topic Alias the PUBLISH carried, 0 if none. The
	// topic is resolved before any handler runs; this is for display.
	TopicAlias uint16
	// HasPayloadFormat says the PUBLISH carried a Payload Format Indicator:
	// 1 when PayloadUTF8 is set, 0 when not.
	HasPayloadFormat bool
}

// ServerSettings are the limits and facts the broker stated in CONNACK
// (MQTT 5.0 §3.2.2.3), with the protocol's defaults where it stated none.
// At 3.1.x every field holds that default. The client enforces them: a
// publish or subscribe they forbid fails with ErrNotSupported or
// ErrPacketTooLarge, never a silent downgrade.
type ServerSettings struct {
	ReceiveMaximum    uint16 // QoS 1 and 2 publishes the broker takes unacknowledged
	MaximumQoS        QoS
	RetainAvailable   bool
	MaximumPacketSize int    // 0: the protocol's limit
	TopicAliasMaximum uint16 // aliases the client may use; 0: none

	WildcardSubscriptions   bool
	SubscriptionIdentifiers bool
	SharedSubscriptions     bool

	KeepAlive     time.Duration // what applies: the broker's Server Keep Alive, or Config.KeepAlive
	SessionExpiry time.Duration // what applies; -1: never expires

	AssignedClientID    string // set when the broker chose the client identifier
	ResponseInformation string
	ServerReference     string
	ReasonString        string
	UserProperties      []UserProperty
}

// defaultServer is what a 3.1.x broker, or a 5.0 broker that states
// nothing, allows.
func defaultServer(keepAlive time.Duration) ServerSettings {
	return ServerSettings{ReceiveMaximum: 65535, MaximumQoS: ExactlyOnce, RetainAvailable: true,
		WildcardSubscriptions: true, SubscriptionIdentifiers: true, SharedSubscriptions: true, KeepAlive: keepAlive}
}

// serverSettings reads CONNACK's properties over the defaults.
func serverSettings(ack *packets.Connack, keepAlive, sessionExpiry time.Duration) ServerSettings {
	s := defaultServer(keepAlive)
	s.SessionExpiry = sessionExpiry
	ps := ack.Properties
	if ps == nil {
		return s
	}
	has := ps.Present.Has
	if has(packets.PropReceiveMaximum) {
		s.ReceiveMaximum = ps.ReceiveMaximum
	}
	if has(packets.PropMaximumQoS) {
		s.MaximumQoS = QoS(ps.MaximumQoS)
	}
	if has(packets.PropRetainAvailable) {
		s.RetainAvailable = ps.RetainAvailable == 1
	}
	if has(packets.PropMaximumPacketSize) {
		s.MaximumPacketSize = int(ps.MaximumPacketSize)
	}
	s.TopicAliasMaximum = ps.TopicAliasMaximum
	if has(packets.PropWildcardSubscriptionAvailable) {
		s.WildcardSubscriptions = ps.WildcardSubscriptionAvailable == 1
	}
	if has(packets.PropSubscriptionIdentifierAvailable) {
		s.SubscriptionIdentifiers = ps.SubscriptionIdentifierAvailable == 1
	}
	if has(packets.PropSharedSubscriptionAvailable) {
		s.SharedSubscriptions = ps.SharedSubscriptionAvailable == 1
	}
	if has(packets.PropServerKeepAlive) {
		s.KeepAlive = time.Duration(ps.ServerKeepAlive) * time.Second
	}
	if has(packets.PropSessionExpiryInterval) {
		s.SessionExpiry = expiryDuration(ps.SessionExpiryInterval)
	}
	s.AssignedClientID = ps.AssignedClientIdentifier
	s.ResponseInformation = ps.ResponseInformation
	s.ServerReference = ps.ServerReference
	s.ReasonString = ps.ReasonString
	s.UserProperties = append([]UserProperty(nil), ps.UserProperties...)
	return s
}

// expiryDuration turns a Session Expiry Interval into a duration, -1 for
// never.
func expiryDuration(sec uint32) time.Duration {
	if sec == 0xFFFFFFFF {
		return -1
	}
	return time.Duration(sec) * time.Second
}

// seconds rounds d up to whole seconds, for the 4-byte intervals.
func seconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	return uint32(min(s, 0xFFFFFFFE))
}

// ErrNeedsMQTT5 is returned for an option only MQTT 5.0 can carry (a
// property, a subscription option, a reason code) on a client whose
// Config.Protocol is 3.1 or 3.1.1: never dropped silently.
var ErrNeedsMQTT5 = errors.New("client: this option needs MQTT 5.0 (Config.Protocol = MQTT5)")

// ErrMessageExpired is the outcome of a message whose Message Expiry
// Interval (WithMessageExpiry) ran out while it waited to be sent: offline,
// or behind the send window. It was not sent.
var ErrMessageExpired = errors.New("client: message expired before it could be sent")

// ErrNotSupported is returned for a publish or subscribe that the broker
// said in CONNACK it does not support: a QoS above its Maximum QoS, a
// retained message without Retain Available, a wildcard, shared or
// identified subscription it does not offer. The error names which.
var ErrNotSupported = errors.New("client: not supported by the broker")

// ReasonError is a reason code of 0x80 or above from an MQTT 5.0 broker:
// in CONNACK (see ConnectError), PUBACK, PUBREC, SUBACK, UNSUBACK or a
// DISCONNECT the broker sent. Test for a code with errors.Is and the
// sentinels below, which match a ReasonError of the same code from any
// packet: errors.Is(err, client.ErrNotAuthorized).
type ReasonError struct {
	Packet packets.Type       // the packet that carried it; 0 in the sentinels
	Code   packets.ReasonCode // 0x80 or above
	// Reason is the broker's Reason String, for people; never parse it.
	Reason string
	// ServerReference names another server to use (DISCONNECT and CONNACK
	// with 0x9C Use another server or 0x9D Server moved).
	ServerReference string
}

// Error names the packet, the code and its meaning, and the broker's
// reason string.
func (e *ReasonError) Error() string {
	if e.Packet == 0 {
		return fmt.Sprintf("client: %s (reason code %#02x)", reasonName(e.Code), byte(e.Code))
	}
	s := fmt.Sprintf("client: %s from the broker: %s (reason code %#02x)", e.Packet, e.Code.NameFor(e.Packet), byte(e.Code))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.ServerReference != "" {
		s += " (server reference " + e.ServerReference + ")"
	}
	return s
}

// Is matches a sentinel ReasonError (Packet 0) of the same code.
func (e *ReasonError) Is(target error) bool {
	t, ok := target.(*ReasonError)
	return ok && t.Packet == 0 && t.Code == e.Code
}

// reasonName finds a code's name in the packets that may carry it.
func reasonName(c packets.ReasonCode) string {
	for _, t := range []packets.Type{packets.TypeDisconnect, packets.TypeConnack, packets.TypePuback, packets.TypeSuback} {
		if c.ValidFor(t) {
			return c.NameFor(t)
		}
	}
	return c.NameFor(packets.TypeDisconnect)
}

// Sentinels for errors.Is, one per reason code a caller may want to act on.
var (
	ErrUnspecified            = &ReasonError{Code: packets.ReasonUnspecifiedError}
	ErrImplementationSpecific = &ReasonError{Code: packets.ReasonImplementationSpecificError}
	ErrNotAuthorized          = &ReasonError{Code: packets.ReasonNotAuthorized}
	ErrBadUserNameOrPassword  = &ReasonError{Code: packets.ReasonBadUserNameOrPassword}
	ErrServerUnavailable      = &ReasonError{Code: packets.ReasonServerUnavailable}
	ErrServerBusy             = &ReasonError{Code: packets.ReasonServerBusy}
	ErrBanned                 = &ReasonError{Code: packets.ReasonBanned}
	ErrServerShuttingDown     = &ReasonError{Code: packets.ReasonServerShuttingDown}
	ErrSessionTakenOver       = &ReasonError{Code: packets.ReasonSessionTakenOver}
	ErrTopicFilterInvalid     = &ReasonError{Code: packets.ReasonTopicFilterInvalid}
	ErrTopicNameInvalid       = &ReasonError{Code: packets.ReasonTopicNameInvalid}
	ErrPacketIDInUse          = &ReasonError{Code: packets.ReasonPacketIdentifierInUse}
	ErrPacketTooLarge         = &ReasonError{Code: packets.ReasonPacketTooLarge}
	ErrQuotaExceeded          = &ReasonError{Code: packets.ReasonQuotaExceeded}
	ErrPayloadFormatInvalid   = &ReasonError{Code: packets.ReasonPayloadFormatInvalid}
)

// reasonString returns the Reason String of a properties block.
func reasonString(ps *packets.Properties) string {
	if ps == nil {
		return ""
	}
	return ps.ReasonString
}

// messageProperties copies the properties a handler may read out of a
// received PUBLISH; nil when it has none. The packet's memory is the
// reader's, so slices are copied.
func messageProperties(ps *packets.Properties) *MessageProperties {
	if ps == nil {
		return nil
	}
	has := ps.Present.Has
	mp := &MessageProperties{
		PayloadUTF8:      has(packets.PropPayloadFormatIndicator) && ps.PayloadFormatIndicator == 1,
		HasPayloadFormat: has(packets.PropPayloadFormatIndicator),
		ContentType:      ps.ContentType,
		ResponseTopic:    ps.ResponseTopic,
	}
	if has(packets.PropTopicAlias) {
		mp.TopicAlias = ps.TopicAlias
	}
	if has(packets.PropMessageExpiryInterval) {
		mp.Expiry = time.Duration(ps.MessageExpiryInterval) * time.Second
	}
	if has(packets.PropCorrelationData) {
		mp.CorrelationData = append([]byte{}, ps.CorrelationData...)
	}
	if len(ps.UserProperties) > 0 {
		mp.UserProperties = append([]UserProperty(nil), ps.UserProperties...)
	}
	if len(ps.SubscriptionIdentifiers) > 0 {
		mp.SubscriptionIDs = append([]uint32(nil), ps.SubscriptionIdentifiers...)
	}
	if !mp.HasPayloadFormat && mp.Expiry == 0 && mp.ContentType == "" && mp.ResponseTopic == "" &&
		mp.CorrelationData == nil && mp.UserProperties == nil && mp.SubscriptionIDs == nil && mp.TopicAlias == 0 {
		return nil
	}
	return mp
}

// resolveAlias returns the topic of a 5.0 PUBLISH, resolving and recording
// its Topic Alias (MQTT 5.0 §3.3.2.3.4). Aliases live as long as the
// connection; an alias of 0 or above the maximum the client set is invalid
// (0x94), and an empty topic with no alias, or with one never set, is a
// protocol error. Only the read loop calls it.
func (cn *conn) resolveAlias(p *packets.Publish) (string, error) {
	if p.Properties == nil || !p.Properties.Present.Has(packets.PropTopicAlias) {
		if p.TopicName == "" {
			return "", &violation{packets.ReasonProtocolError, "PUBLISH with an empty topic and no Topic Alias (MQTT 5.0 §3.3.2.1)"}
		}
		return p.TopicName, nil
	}
	alias := p.Properties.TopicAlias
	limit := cn.c.s.MQTT5.TopicAliasMaximum
	if alias == 0 || alias > limit {
		return "", &violation{packets.ReasonTopicAliasInvalid, fmt.Sprintf("Topic Alias %d outside 1..%d (MQTT5-3.3.2-11)", alias, limit)}
	}
	if cn.aliasIn == nil {
		cn.aliasIn = make([]string, int(limit)+1)
	}
	if p.TopicName != "" {
		cn.aliasIn[alias] = p.TopicName
		return p.TopicName, nil
	}
	topic := cn.aliasIn[alias]
	if topic == "" {
		return "", &violation{packets.ReasonProtocolError, fmt.Sprintf("Topic Alias %d was never set on this connection", alias)}
	}
	return topic, nil
}

// violation is a breach of MQTT 5.0 by the broker that the client closes
// the connection for, telling the broker code in its DISCONNECT.
type violation struct {
	code packets.ReasonCode
	msg  string
}

func (v *violation) Error() string { return ErrProtocolViolation.Error() + ": " + v.msg }

// Unwrap returns ErrProtocolViolation.
func (v *violation) Unwrap() error { return ErrProtocolViolation }

// admits checks a publish against the limits the broker set in CONNACK:
// Maximum QoS (MQTT5-3.2.2-11), Retain Available (MQTT5-3.2.2-14) and
// Maximum Packet Size (MQTT5-3.2.2-15). At 3.1.x they are the protocol's
// own, and everything passes.
func (cn *conn) admits(p *packets.Publish) error {
	srv := &cn.server
	switch {
	case p.QoS > srv.MaximumQoS:
		return fmt.Errorf("client: publish to %q: %w: QoS %d above the broker's Maximum QoS %d", p.TopicName, ErrNotSupported, p.QoS, srv.MaximumQoS)
	case p.Retain && !srv.RetainAvailable:
		return fmt.Errorf("client: publish to %q: %w: retained messages (Retain Available 0)", p.TopicName, ErrNotSupported)
	case srv.MaximumPacketSize > 0:
		if n := p.SizeVersion(cn.level); n > srv.MaximumPacketSize {
			return fmt.Errorf("client: publish to %q: %d bytes over the broker's Maximum Packet Size %d: %w", p.TopicName, n, srv.MaximumPacketSize, ErrPacketTooLarge)
		}
	}
	return nil
}

// MaxRedirects bounds the server redirects followed in a row.
const MaxRedirects = 3

// redirect returns the broker a refusal or DISCONNECT points to, when it
// is a redirect and Config.MQTT5.OnRedirect accepts it.
func (c *Client) redirect(err error) (*url.URL, bool) {
	var re *ReasonError
	fn := c.s.MQTT5.OnRedirect
	if fn == nil || !errors.As(err, &re) || re.ServerReference == "" ||
		(re.Code != packets.ReasonUseAnotherServer && re.Code != packets.ReasonServerMoved) {
		return nil, false
	}
	to, ok := fn(re.ServerReference)
	if !ok {
		return nil, false
	}
	u, perr := dial.ParseBrokerURL(to)
	if perr != nil {
		c.reportError(fmt.Errorf("client: redirect to %q: %w", re.ServerReference, perr))
		return nil, false
	}
	c.s.log.Info("redirected", "from", re.Packet, "reference", re.ServerReference, "broker", u.Redacted())
	return u, true
}
