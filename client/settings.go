// settings.go holds settings: a Config validated, with the defaults of its
// zero values applied, and the CONNECT packet it makes.
package client

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/packets"
)

// settings is a Config with defaults applied and URLs parsed.
type settings struct {
	Config
	brokers []*url.URL
	log     *slog.Logger
}

// settle validates cfg and applies the defaults of its zero values.
func (cfg Config) settle() (*settings, error) {
	s := &settings{Config: cfg}
	for _, step := range []func() error{s.settleBrokers, s.settleIdentity, s.settleTimes, s.settleLimits, s.settleWill, s.settleMQTT5} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	// Build the CONNECT once, so that an invalid field is reported by New.
	if err := s.connectPacket(s.Username, s.Password).ValidateVersion(s.Protocol); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *settings) settleBrokers() error {
	if len(s.Brokers) == 0 {
		return errors.New("client: Config.Brokers is empty")
	}
	for _, b := range s.Brokers {
		u, err := dial.ParseBrokerURL(b)
		if err != nil {
			return err
		}
		s.brokers = append(s.brokers, u)
	}
	return nil
}

func (s *settings) settleIdentity() error {
	if s.Protocol == 0 {
		s.Protocol = MQTT311
	}
	// Valid knows the 3.1.x levels only; ValidVersion(MQTT5) adds 5.0.
	if !s.Protocol.ValidVersion(MQTT5) {
		return fmt.Errorf("client: unsupported protocol level %d", s.Protocol)
	}
	if s.ClientID == "" {
		if s.PersistentSession {
			// MQTT-3.1.3-7, and §3.1.3.1 discourages random identifiers for
			// persistent sessions: they could never be resumed.
			return errors.New("client: a persistent session needs a ClientID (MQTT-3.1.3-7)")
		}
		if s.Protocol != MQTT5 {
			s.ClientID = randomClientID()
		}
		// At 5.0 the broker assigns one (MQTT5-3.1.3-6), which the client
		// reuses on every reconnection.
	}
	if s.Protocol == MQTT31 && len(s.ClientID) > 23 {
		return errors.New("client: MQTT 3.1 limits the ClientID to 23 characters")
	}
	return nil
}

func (s *settings) settleTimes() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&s.KeepAlive, DefaultKeepAlive)
	if s.KeepAlive > 65535*time.Second {
		return errors.New("client: KeepAlive exceeds 65535 seconds")
	}
	if s.KeepAlive > 0 && s.KeepAlive < time.Second {
		return errors.New("client: KeepAlive is sent in seconds and must be at least 1s")
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
		return errors.New("client: Reconnect needs Multiplier >= 1 and Jitter within 0..1")
	}
	return nil
}

func (s *settings) settleLimits() error {
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
		if *f.n == 0 {
			*f.n = f.v
		}
		if *f.n < 0 {
			return fmt.Errorf("client: %s is negative", f.name)
		}
	}
	if s.MaxInflight > 65535 {
		return errors.New("client: MaxInflight exceeds the 65535 packet identifiers")
	}
	if s.MaxPacketSize > packets.MaxRemainingLength {
		return fmt.Errorf("client: MaxPacketSize exceeds %d", packets.MaxRemainingLength)
	}
	if s.Transport.MaxFrameSize == 0 {
		// Bound WebSocket frames by the packet limit, plus the fixed
		// header, since brokers send a packet per frame: a larger frame
		// is refused at its header.
		s.Transport.MaxFrameSize = s.MaxPacketSize + 5
	}
	return nil
}

func (s *settings) settleWill() error {
	w := s.Will
	if w == nil {
		return nil
	}
	if err := packets.ValidateTopicName(w.Topic); err != nil {
		return fmt.Errorf("client: will topic: %w", err)
	}
	if !w.QoS.Valid() {
		return fmt.Errorf("client: will QoS %d (MQTT-3.1.2-14)", w.QoS)
	}
	return nil
}

// settleMQTT5 refuses 5.0 settings on a 3.1.x client.
func (s *settings) settleMQTT5() error {
	if s.Protocol == MQTT5 {
		return nil
	}
	if s.MQTT5.set() || (s.Will != nil && s.Will.Properties != nil) {
		return fmt.Errorf("client: Config.MQTT5 or Will.Properties: %w", ErrNeedsMQTT5)
	}
	return nil
}

// sessionExpiry is the Session Expiry Interval CONNECT asks for: by
// default a persistent session never expires and a clean one ends with the
// connection, as in 3.1.1.
func (s *settings) sessionExpiry() uint32 {
	switch {
	case s.MQTT5.SessionExpiry > 0:
		return seconds(s.MQTT5.SessionExpiry)
	case s.PersistentSession:
		return 0xFFFFFFFF
	}
	return 0
}

// connectPacket builds CONNECT for one attempt (MQTT 3.1.1 §3.1, MQTT 5.0
// §3.1). clientID is Config.ClientID, or at 5.0 the one the broker
// assigned on an earlier connection.
func (s *settings) connectPacket(username, password string) *packets.Connect {
	return s.connectPacketFor(s.ClientID, username, password)
}

func (s *settings) connectPacketFor(clientID, username, password string) *packets.Connect {
	p := &packets.Connect{
		ProtocolName:  "MQTT",
		ProtocolLevel: s.Protocol,
		CleanSession:  !s.PersistentSession,
		ClientID:      clientID,
	}
	if s.Protocol == MQTT5 {
		s.connectProperties(p)
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

// connectProperties adds the 5.0 properties of CONNECT and of its will.
func (s *settings) connectProperties(p *packets.Connect) {
	ps := &packets.Properties{UserProperties: s.MQTT5.UserProperties}
	if e := s.sessionExpiry(); e != 0 {
		ps.SetSessionExpiryInterval(e)
	}
	if s.MQTT5.ReceiveMaximum != 0 {
		ps.SetReceiveMaximum(s.MQTT5.ReceiveMaximum)
	}
	if s.MaxPacketSize < packets.MaxRemainingLength {
		// 5.0's limit counts the whole packet, ours the Remaining Length: a
		// packet of at most MaxPacketSize+2 bytes has a Remaining Length of
		// at most MaxPacketSize, so nothing the broker may send is refused.
		ps.SetMaximumPacketSize(uint32(s.MaxPacketSize + 2))
	}
	if s.MQTT5.TopicAliasMaximum != 0 {
		ps.SetTopicAliasMaximum(s.MQTT5.TopicAliasMaximum)
	}
	if s.MQTT5.NoProblemInformation {
		ps.SetRequestProblemInformation(0)
	}
	if s.MQTT5.RequestResponseInformation {
		ps.SetRequestResponseInformation(1)
	}
	p.Properties = ps
	if s.Will == nil || s.Will.Properties == nil {
		return
	}
	wp := s.Will.Properties
	w := &packets.Properties{UserProperties: wp.UserProperties}
	if wp.Delay > 0 {
		w.SetWillDelayInterval(seconds(wp.Delay))
	}
	if wp.Expiry > 0 {
		w.SetMessageExpiryInterval(seconds(wp.Expiry))
	}
	if wp.PayloadUTF8 {
		w.SetPayloadFormatIndicator(1)
	}
	if wp.ContentType != "" {
		w.SetContentType(wp.ContentType)
	}
	if wp.ResponseTopic != "" {
		w.SetResponseTopic(wp.ResponseTopic)
	}
	if wp.CorrelationData != nil {
		w.SetCorrelationData(wp.CorrelationData)
	}
	p.WillProperties = w
}

// randomClientID returns an identifier of 23 characters or fewer, the length
// every MQTT 3.1.1 server must accept (§3.1.3.1).
func randomClientID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "feedmq-" + hex.EncodeToString(b[:])
}
