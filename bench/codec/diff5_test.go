package codec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	pahogolang "github.com/eclipse/paho.golang/packets"
	"github.com/feedmq/feedmq/packets"
)

// TestDifferential5 checks feedmq's MQTT 5.0 codec against paho.golang's
// packets package, an independent implementation: random packets of every
// type are built alike in both libraries; what feedmq encodes paho decodes,
// and what paho encodes feedmq decodes, and the two sides agree field for
// field, properties included. It lives in the bench module so that
// paho.golang never enters feedmq's go.mod.
//
// paho.golang's limits shape the generator, not the comparison: it holds one
// Subscription Identifier per packet, leaves out empty strings and binary
// data, and writes a will's properties with the CONNECT property set (so a
// will from paho carries only Will Delay Interval and User Properties).
func TestDifferential5(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewPCG(5, 0))
	checked, shortDisconnects := 0, 0
	types := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	for i := range n {
		typ := types[i%len(types)]
		for _, fromPaho := range []bool{false, true} {
			m := randomModel(rng, typ, fromPaho)
			f := m.feedmq()
			p := m.paho()
			wantView := m.view()
			require(t, wantView == viewFeedmq(f), "model and feedmq packet differ: %s", m)

			// feedmq encodes, paho decodes.
			b, err := f.AppendVersion(nil, packets.ProtocolMQTT5)
			require(t, err == nil, "feedmq encode %v: %v", f, err)
			cp, err := pahogolang.ReadPacket(bytes.NewReader(b))
			if typ == 14 && len(b) == 2 {
				// paho.golang v0.23.0 cannot read the short DISCONNECT
				// (Remaining Length 0, MQTT 5.0 §3.14.2.1): Unpack reads a
				// reason code that is not there. Known; see BENCHMARKS.md.
				require(t, err != nil, "paho.golang now reads the short DISCONNECT: drop this exception")
				shortDisconnects++
			} else {
				require(t, err == nil, "paho decode %x (%v): %v", b, f, err)
				require(t, viewPaho(cp) == wantView, "paho decoded feedmq's %x\n got  %s\n want %s", b, viewPaho(cp), wantView)
				checked++
			}

			// paho encodes, feedmq decodes: models paho.golang can write.
			if !fromPaho {
				continue
			}
			var buf bytes.Buffer
			_, err = p.WriteTo(&buf)
			require(t, err == nil, "paho encode: %v", err)
			got, used, err := packets.DecodeVersion(buf.Bytes(), packets.ProtocolMQTT5)
			require(t, err == nil, "feedmq decode %x (%s): %v", buf.Bytes(), m, err)
			require(t, used == buf.Len(), "feedmq used %d of %d bytes", used, buf.Len())
			require(t, viewFeedmq(got) == wantView, "feedmq decoded paho's %x\n got  %s\n want %s", buf.Bytes(), viewFeedmq(got), wantView)
			checked++
		}
	}
	t.Logf("%d packets compared field for field; %d short DISCONNECTs paho.golang cannot read", checked, shortDisconnects)
}

func require(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

// model is a packet described independently of both libraries.
type model struct {
	typ            byte
	id             uint16
	qos            byte
	dup, retain    bool
	topic          string
	payload        []byte
	reason         byte
	reasons        []byte
	sessionPresent bool
	// CONNECT
	clientID, username, willTopic string
	password, willMessage         []byte
	keepAlive                     uint16
	cleanStart, willFlag          bool
	willQoS                       byte
	willRetain, userFlag, pwFlag  bool
	subs                          []sub
	filters                       []string
	props, willProps              propModel
}

type sub struct {
	filter                string
	qos, retainHandling   byte
	noLocal, retainAsPubl bool
}

// propModel holds properties as optional values: nil when absent.
type propModel struct {
	bytes map[byte]byte   // byte-valued properties by identifier
	u16   map[byte]uint16 // two-byte integers
	u32   map[byte]uint32 // four-byte integers
	strs  map[byte]string // strings
	bins  map[byte][]byte // binary data
	subID *int
	user  [][2]string
}

func (m *model) String() string { return m.view() }

// Property identifiers by type and the packets that allow them.
var (
	byteProps = map[byte][]byte{0x01: {3}, 0x17: {1}, 0x19: {1}, 0x24: {2}, 0x25: {2}, 0x28: {2}, 0x29: {2}, 0x2a: {2}}
	u16Props  = map[byte][]byte{0x13: {2}, 0x21: {1, 2}, 0x22: {1, 2}, 0x23: {3}}
	u32Props  = map[byte][]byte{0x02: {3}, 0x11: {1, 2, 14}, 0x27: {1, 2}}
	strProps  = map[byte][]byte{0x03: {3}, 0x08: {3}, 0x12: {2}, 0x15: {1, 2, 15}, 0x1a: {2}, 0x1c: {2, 14}, 0x1f: {2, 4, 5, 6, 7, 9, 11, 14, 15}}
	binProps  = map[byte][]byte{0x09: {3}, 0x16: {1, 2, 15}}
	hasProps  = map[byte]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true, 11: true, 14: true, 15: true}
)

func allows(list []byte, typ byte) bool {
	for _, t := range list {
		if t == typ {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[byte]V) []byte {
	keys := make([]byte, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.é€😀"

func randString(rng *rand.Rand, min, max int) string {
	n := min + rng.IntN(max-min+1)
	r := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(r[rng.IntN(len(r))])
	}
	return b.String()
}

func randBytes(rng *rand.Rand, min, max int) []byte {
	b := make([]byte, min+rng.IntN(max-min+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randTopic(rng *rand.Rand) string {
	levels := 1 + rng.IntN(4)
	parts := make([]string, levels)
	for i := range parts {
		parts[i] = randString(rng, 1, 8)
	}
	return strings.Join(parts, "/")
}

func randFilter(rng *rand.Rand) string {
	parts := strings.Split(randTopic(rng), "/")
	for i := range parts {
		if rng.IntN(4) == 0 {
			parts[i] = "+"
		}
	}
	if rng.IntN(3) == 0 {
		parts = append(parts, "#")
	}
	return strings.Join(parts, "/")
}

func randReason(rng *rand.Rand, typ byte) byte {
	for {
		c := byte(rng.IntN(256))
		if packets.ReasonCode(c).ValidFor(packets.Type(typ)) {
			return c
		}
	}
}

// randomProps picks properties the packet type allows. will selects the
// will's properties; fromPaho limits them to what paho.golang can write.
func randomProps(rng *rand.Rand, typ byte, will, fromPaho bool) propModel {
	pm := propModel{bytes: map[byte]byte{}, u16: map[byte]uint16{}, u32: map[byte]uint32{}, strs: map[byte]string{}, bins: map[byte][]byte{}}
	pick := func(list []byte) bool {
		if will {
			return false
		}
		return allows(list, typ) && rng.IntN(3) == 0
	}
	if will {
		if rng.IntN(2) == 0 {
			pm.u32[0x18] = rng.Uint32()
		}
		if !fromPaho {
			for _, id := range []byte{0x01} {
				if rng.IntN(2) == 0 {
					pm.bytes[id] = byte(rng.IntN(2))
				}
			}
			if rng.IntN(2) == 0 {
				pm.u32[0x02] = rng.Uint32()
			}
			for _, id := range []byte{0x03, 0x08} {
				if rng.IntN(2) == 0 {
					pm.strs[id] = randTopic(rng)
				}
			}
			if rng.IntN(2) == 0 {
				pm.bins[0x09] = randBytes(rng, 1, 20)
			}
		}
	}
	for id, in := range byteProps {
		if pick(in) {
			pm.bytes[id] = byte(rng.IntN(2))
		}
	}
	for id, in := range u16Props {
		if pick(in) {
			pm.u16[id] = uint16(1 + rng.IntN(65535))
		}
	}
	for id, in := range u32Props {
		if pick(in) {
			pm.u32[id] = 1 + rng.Uint32N(1<<32-1)
		}
	}
	for id, in := range strProps {
		if pick(in) {
			pm.strs[id] = randTopic(rng)
		}
	}
	if pick(binProps[0x16]) {
		pm.strs[0x15] = randString(rng, 1, 10) // Authentication Data needs a method
		pm.bins[0x16] = randBytes(rng, 1, 30)
	}
	if pick(binProps[0x09]) {
		pm.bins[0x09] = randBytes(rng, 1, 30)
	}
	if (typ == 3 || typ == 8) && !will && rng.IntN(3) == 0 {
		id := 1 + rng.IntN(268435455)
		pm.subID = &id
	}
	if hasProps[typ] && typ != 15 || will {
		for range rng.IntN(3) {
			pm.user = append(pm.user, [2]string{randString(rng, 0, 6), randString(rng, 0, 6)})
		}
	}
	if typ == 15 {
		for range rng.IntN(3) {
			pm.user = append(pm.user, [2]string{randString(rng, 0, 6), randString(rng, 0, 6)})
		}
	}
	return pm
}

func randomModel(rng *rand.Rand, typ byte, fromPaho bool) *model {
	m := &model{typ: typ}
	id := uint16(1 + rng.IntN(65535))
	switch typ {
	case 1:
		m.clientID = randString(rng, 0, 23)
		m.keepAlive = uint16(rng.IntN(65536))
		m.cleanStart = rng.IntN(2) == 0
		if rng.IntN(2) == 0 {
			m.willFlag = true
			m.willQoS = byte(rng.IntN(3))
			m.willRetain = rng.IntN(2) == 0
			m.willTopic = randTopic(rng)
			m.willMessage = randBytes(rng, 0, 40)
			m.willProps = randomProps(rng, typ, true, fromPaho)
		}
		if rng.IntN(2) == 0 {
			m.userFlag = true
			m.username = randString(rng, 0, 12)
		}
		if rng.IntN(2) == 0 {
			m.pwFlag = true
			m.password = randBytes(rng, 0, 16)
		}
	case 2:
		m.reason = randReason(rng, typ)
		m.sessionPresent = m.reason == 0 && rng.IntN(2) == 0
	case 3:
		m.qos = byte(rng.IntN(3))
		if m.qos > 0 {
			m.id = id
			m.dup = rng.IntN(2) == 0
		}
		m.retain = rng.IntN(2) == 0
		m.topic = randTopic(rng)
		m.payload = randBytes(rng, 0, 200)
	case 4, 5, 6, 7:
		m.id = id
		if rng.IntN(2) == 0 {
			m.reason = randReason(rng, typ)
		}
	case 8:
		m.id = id
		for range 1 + rng.IntN(4) {
			m.subs = append(m.subs, sub{filter: randFilter(rng), qos: byte(rng.IntN(3)), retainHandling: byte(rng.IntN(3)),
				noLocal: rng.IntN(2) == 0, retainAsPubl: rng.IntN(2) == 0})
		}
	case 9, 11:
		m.id = id
		for range 1 + rng.IntN(5) {
			m.reasons = append(m.reasons, randReason(rng, typ))
		}
	case 10:
		m.id = id
		for range 1 + rng.IntN(4) {
			m.filters = append(m.filters, randFilter(rng))
		}
	case 14, 15:
		if rng.IntN(2) == 0 {
			m.reason = randReason(rng, typ)
		}
	}
	if hasProps[typ] {
		m.props = randomProps(rng, typ, false, fromPaho)
	}
	return m
}

// ---------------------------------------------------------------------------
// Building each library's packet from the model.

func (pm propModel) feedmq() *packets.Properties {
	p := new(packets.Properties)
	for id, v := range pm.bytes {
		p.Present = p.Present.With(packets.PropertyID(id))
		switch id {
		case 0x01:
			p.PayloadFormatIndicator = v
		case 0x17:
			p.RequestProblemInformation = v
		case 0x19:
			p.RequestResponseInformation = v
		case 0x24:
			p.MaximumQoS = v
		case 0x25:
			p.RetainAvailable = v
		case 0x28:
			p.WildcardSubscriptionAvailable = v
		case 0x29:
			p.SubscriptionIdentifierAvailable = v
		case 0x2a:
			p.SharedSubscriptionAvailable = v
		}
	}
	for id, v := range pm.u16 {
		p.Present = p.Present.With(packets.PropertyID(id))
		switch id {
		case 0x13:
			p.ServerKeepAlive = v
		case 0x21:
			p.ReceiveMaximum = v
		case 0x22:
			p.TopicAliasMaximum = v
		case 0x23:
			p.TopicAlias = v
		}
	}
	for id, v := range pm.u32 {
		p.Present = p.Present.With(packets.PropertyID(id))
		switch id {
		case 0x02:
			p.MessageExpiryInterval = v
		case 0x11:
			p.SessionExpiryInterval = v
		case 0x18:
			p.WillDelayInterval = v
		case 0x27:
			p.MaximumPacketSize = v
		}
	}
	for id, v := range pm.strs {
		p.Present = p.Present.With(packets.PropertyID(id))
		switch id {
		case 0x03:
			p.ContentType = v
		case 0x08:
			p.ResponseTopic = v
		case 0x12:
			p.AssignedClientIdentifier = v
		case 0x15:
			p.AuthenticationMethod = v
		case 0x1a:
			p.ResponseInformation = v
		case 0x1c:
			p.ServerReference = v
		case 0x1f:
			p.ReasonString = v
		}
	}
	for id, v := range pm.bins {
		p.Present = p.Present.With(packets.PropertyID(id))
		switch id {
		case 0x09:
			p.CorrelationData = v
		case 0x16:
			p.AuthenticationData = v
		}
	}
	if pm.subID != nil {
		p.SubscriptionIdentifiers = []uint32{uint32(*pm.subID)}
	}
	for _, u := range pm.user {
		p.UserProperties = append(p.UserProperties, packets.StringPair{Key: u[0], Value: u[1]})
	}
	return p
}

func (m *model) feedmq() packets.Packet {
	pr := m.props.feedmq()
	switch m.typ {
	case 1:
		return &packets.Connect{ProtocolName: "MQTT", ProtocolLevel: packets.ProtocolMQTT5,
			UsernameFlag: m.userFlag, PasswordFlag: m.pwFlag, WillRetain: m.willRetain, WillQoS: packets.QoS(m.willQoS),
			WillFlag: m.willFlag, CleanSession: m.cleanStart, KeepAlive: m.keepAlive, Properties: pr,
			ClientID: m.clientID, WillProperties: m.willProps.feedmq(), WillTopic: m.willTopic, WillMessage: m.willMessage,
			Username: m.username, Password: m.password}
	case 2:
		return &packets.Connack{SessionPresent: m.sessionPresent, ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	case 3:
		return &packets.Publish{Dup: m.dup, QoS: packets.QoS(m.qos), Retain: m.retain, TopicName: m.topic, PacketID: m.id, Properties: pr, Payload: m.payload}
	case 4:
		return &packets.Puback{PacketID: m.id, ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	case 5:
		return &packets.Pubrec{PacketID: m.id, ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	case 6:
		return &packets.Pubrel{PacketID: m.id, ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	case 7:
		return &packets.Pubcomp{PacketID: m.id, ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	case 8:
		s := &packets.Subscribe{PacketID: m.id, Properties: pr}
		for _, x := range m.subs {
			s.Subscriptions = append(s.Subscriptions, packets.Subscription{TopicFilter: x.filter, QoS: packets.QoS(x.qos),
				RetainHandling: packets.RetainHandling(x.retainHandling), NoLocal: x.noLocal, RetainAsPublished: x.retainAsPubl})
		}
		return s
	case 9:
		s := &packets.Suback{PacketID: m.id, Properties: pr}
		for _, c := range m.reasons {
			s.ReasonCodes = append(s.ReasonCodes, packets.ReasonCode(c))
		}
		return s
	case 10:
		return &packets.Unsubscribe{PacketID: m.id, Properties: pr, TopicFilters: m.filters}
	case 11:
		s := &packets.Unsuback{PacketID: m.id, Properties: pr}
		for _, c := range m.reasons {
			s.ReasonCodes = append(s.ReasonCodes, packets.ReasonCode(c))
		}
		return s
	case 12:
		return &packets.Pingreq{}
	case 13:
		return &packets.Pingresp{}
	case 14:
		return &packets.Disconnect{ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	case 15:
		return &packets.Auth{ReasonCode: packets.ReasonCode(m.reason), Properties: pr}
	}
	panic("type")
}

func (pm propModel) paho() *pahogolang.Properties {
	p := &pahogolang.Properties{}
	b := func(v byte) *byte { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	u32 := func(v uint32) *uint32 { return &v }
	for id, v := range pm.bytes {
		switch id {
		case 0x01:
			p.PayloadFormat = b(v)
		case 0x17:
			p.RequestProblemInfo = b(v)
		case 0x19:
			p.RequestResponseInfo = b(v)
		case 0x24:
			p.MaximumQOS = b(v)
		case 0x25:
			p.RetainAvailable = b(v)
		case 0x28:
			p.WildcardSubAvailable = b(v)
		case 0x29:
			p.SubIDAvailable = b(v)
		case 0x2a:
			p.SharedSubAvailable = b(v)
		}
	}
	for id, v := range pm.u16 {
		switch id {
		case 0x13:
			p.ServerKeepAlive = u16(v)
		case 0x21:
			p.ReceiveMaximum = u16(v)
		case 0x22:
			p.TopicAliasMaximum = u16(v)
		case 0x23:
			p.TopicAlias = u16(v)
		}
	}
	for id, v := range pm.u32 {
		switch id {
		case 0x02:
			p.MessageExpiry = u32(v)
		case 0x11:
			p.SessionExpiryInterval = u32(v)
		case 0x18:
			p.WillDelayInterval = u32(v)
		case 0x27:
			p.MaximumPacketSize = u32(v)
		}
	}
	for id, v := range pm.strs {
		switch id {
		case 0x03:
			p.ContentType = v
		case 0x08:
			p.ResponseTopic = v
		case 0x12:
			p.AssignedClientID = v
		case 0x15:
			p.AuthMethod = v
		case 0x1a:
			p.ResponseInfo = v
		case 0x1c:
			p.ServerReference = v
		case 0x1f:
			p.ReasonString = v
		}
	}
	for id, v := range pm.bins {
		switch id {
		case 0x09:
			p.CorrelationData = v
		case 0x16:
			p.AuthData = v
		}
	}
	p.SubscriptionIdentifier = pm.subID
	for _, u := range pm.user {
		p.User = append(p.User, pahogolang.User{Key: u[0], Value: u[1]})
	}
	return p
}

// paho builds the paho.golang packet, framed with the fixed header flags
// the standard gives each type.
func (m *model) paho() *pahogolang.ControlPacket {
	cp := pahogolang.NewControlPacket(m.typ)
	cp.Flags = 0 // paho.golang v0.23.0 gives AUTH flags 0001, against MQTT5-3.15.1-1
	pr := m.props.paho()
	switch c := cp.Content.(type) {
	case *pahogolang.Connect:
		c.UsernameFlag, c.PasswordFlag, c.WillRetain, c.WillQOS = m.userFlag, m.pwFlag, m.willRetain, m.willQoS
		c.WillFlag, c.CleanStart, c.KeepAlive, c.Properties = m.willFlag, m.cleanStart, m.keepAlive, pr
		c.ClientID, c.WillTopic, c.WillMessage, c.Username, c.Password = m.clientID, m.willTopic, m.willMessage, m.username, m.password
		c.WillProperties = m.willProps.paho()
	case *pahogolang.Connack:
		c.SessionPresent, c.ReasonCode, c.Properties = m.sessionPresent, m.reason, pr
	case *pahogolang.Publish:
		c.Duplicate, c.QoS, c.Retain, c.Topic, c.PacketID, c.Properties, c.Payload = m.dup, m.qos, m.retain, m.topic, m.id, pr, m.payload
	case *pahogolang.Puback:
		c.PacketID, c.ReasonCode, c.Properties = m.id, m.reason, pr
	case *pahogolang.Pubrec:
		c.PacketID, c.ReasonCode, c.Properties = m.id, m.reason, pr
	case *pahogolang.Pubrel:
		cp.Flags = 2
		c.PacketID, c.ReasonCode, c.Properties = m.id, m.reason, pr
	case *pahogolang.Pubcomp:
		c.PacketID, c.ReasonCode, c.Properties = m.id, m.reason, pr
	case *pahogolang.Subscribe:
		cp.Flags = 2
		c.PacketID, c.Properties = m.id, pr
		for _, x := range m.subs {
			c.Subscriptions = append(c.Subscriptions, pahogolang.SubOptions{Topic: x.filter, QoS: x.qos,
				RetainHandling: x.retainHandling, NoLocal: x.noLocal, RetainAsPublished: x.retainAsPubl})
		}
	case *pahogolang.Suback:
		c.PacketID, c.Properties, c.Reasons = m.id, pr, m.reasons
	case *pahogolang.Unsubscribe:
		cp.Flags = 2
		c.PacketID, c.Properties, c.Topics = m.id, pr, m.filters
	case *pahogolang.Unsuback:
		c.PacketID, c.Properties, c.Reasons = m.id, pr, m.reasons
	case *pahogolang.Disconnect:
		c.ReasonCode, c.Properties = m.reason, pr
	case *pahogolang.Auth:
		c.ReasonCode, c.Properties = m.reason, pr
	}
	return cp
}

// ---------------------------------------------------------------------------
// Views: one string per packet, fields in a fixed order, so that both
// libraries' packets and the model compare with ==.

type viewer struct{ b strings.Builder }

func (v *viewer) f(name string, val any) { fmt.Fprintf(&v.b, "%s=%v ", name, val) }

func (pm propModel) write(v *viewer, name string) {
	v.b.WriteString(name + "{")
	for _, id := range sortedKeys(pm.bytes) {
		v.f(fmt.Sprintf("%#x", id), pm.bytes[id])
	}
	for _, id := range sortedKeys(pm.u16) {
		v.f(fmt.Sprintf("%#x", id), pm.u16[id])
	}
	for _, id := range sortedKeys(pm.u32) {
		v.f(fmt.Sprintf("%#x", id), pm.u32[id])
	}
	for _, id := range sortedKeys(pm.strs) {
		v.f(fmt.Sprintf("%#x", id), fmt.Sprintf("%q", pm.strs[id]))
	}
	for _, id := range sortedKeys(pm.bins) {
		v.f(fmt.Sprintf("%#x", id), fmt.Sprintf("%x", pm.bins[id]))
	}
	if pm.subID != nil {
		v.f("0xb", *pm.subID)
	}
	if len(pm.user) > 0 {
		v.f("0x26", fmt.Sprintf("%q", pm.user))
	}
	v.b.WriteString("} ")
}

func (m *model) view() string {
	var v viewer
	v.f("type", m.typ)
	switch m.typ {
	case 1:
		v.f("clientID", fmt.Sprintf("%q", m.clientID))
		v.f("keepAlive", m.keepAlive)
		v.f("clean", m.cleanStart)
		v.f("will", m.willFlag)
		if m.willFlag {
			v.f("willQoS", m.willQoS)
			v.f("willRetain", m.willRetain)
			v.f("willTopic", fmt.Sprintf("%q", m.willTopic))
			v.f("willMessage", fmt.Sprintf("%x", m.willMessage))
			m.willProps.write(&v, "willProps")
		}
		v.f("user", m.userFlag)
		if m.userFlag {
			v.f("username", fmt.Sprintf("%q", m.username))
		}
		v.f("pw", m.pwFlag)
		if m.pwFlag {
			v.f("password", fmt.Sprintf("%x", m.password))
		}
	case 2:
		v.f("sp", m.sessionPresent)
		v.f("reason", m.reason)
	case 3:
		v.f("qos", m.qos)
		v.f("dup", m.dup)
		v.f("retain", m.retain)
		v.f("topic", fmt.Sprintf("%q", m.topic))
		v.f("id", m.id)
		v.f("payload", fmt.Sprintf("%x", m.payload))
	case 4, 5, 6, 7:
		v.f("id", m.id)
		v.f("reason", m.reason)
	case 8:
		v.f("id", m.id)
		v.f("subs", fmt.Sprintf("%+v", m.subs))
	case 9, 11:
		v.f("id", m.id)
		v.f("reasons", fmt.Sprintf("%x", m.reasons))
	case 10:
		v.f("id", m.id)
		v.f("filters", fmt.Sprintf("%q", m.filters))
	case 14, 15:
		v.f("reason", m.reason)
	}
	if hasProps[m.typ] {
		m.props.write(&v, "props")
	}
	return v.b.String()
}

func propsOfFeedmq(p *packets.Properties) propModel {
	if p == nil {
		p = new(packets.Properties) // none arrived
	}
	pm := propModel{bytes: map[byte]byte{}, u16: map[byte]uint16{}, u32: map[byte]uint32{}, strs: map[byte]string{}, bins: map[byte][]byte{}}
	has := func(id byte) bool { return p.Present.Has(packets.PropertyID(id)) }
	for id, v := range map[byte]byte{0x01: p.PayloadFormatIndicator, 0x17: p.RequestProblemInformation, 0x19: p.RequestResponseInformation,
		0x24: p.MaximumQoS, 0x25: p.RetainAvailable, 0x28: p.WildcardSubscriptionAvailable, 0x29: p.SubscriptionIdentifierAvailable, 0x2a: p.SharedSubscriptionAvailable} {
		if has(id) {
			pm.bytes[id] = v
		}
	}
	for id, v := range map[byte]uint16{0x13: p.ServerKeepAlive, 0x21: p.ReceiveMaximum, 0x22: p.TopicAliasMaximum, 0x23: p.TopicAlias} {
		if has(id) {
			pm.u16[id] = v
		}
	}
	for id, v := range map[byte]uint32{0x02: p.MessageExpiryInterval, 0x11: p.SessionExpiryInterval, 0x18: p.WillDelayInterval, 0x27: p.MaximumPacketSize} {
		if has(id) {
			pm.u32[id] = v
		}
	}
	for id, v := range map[byte]string{0x03: p.ContentType, 0x08: p.ResponseTopic, 0x12: p.AssignedClientIdentifier, 0x15: p.AuthenticationMethod,
		0x1a: p.ResponseInformation, 0x1c: p.ServerReference, 0x1f: p.ReasonString} {
		if has(id) {
			pm.strs[id] = v
		}
	}
	for id, v := range map[byte][]byte{0x09: p.CorrelationData, 0x16: p.AuthenticationData} {
		if has(id) {
			pm.bins[id] = v
		}
	}
	if len(p.SubscriptionIdentifiers) > 0 {
		id := int(p.SubscriptionIdentifiers[0])
		pm.subID = &id
	}
	for _, u := range p.UserProperties {
		pm.user = append(pm.user, [2]string{u.Key, u.Value})
	}
	return pm
}

func viewFeedmq(p packets.Packet) string {
	m := &model{typ: byte(p.Type())}
	switch p := p.(type) {
	case *packets.Connect:
		m.clientID, m.keepAlive, m.cleanStart, m.willFlag = p.ClientID, p.KeepAlive, p.CleanSession, p.WillFlag
		m.willQoS, m.willRetain, m.willTopic, m.willMessage = byte(p.WillQoS), p.WillRetain, p.WillTopic, p.WillMessage
		m.willProps = propsOfFeedmq(p.WillProperties)
		m.userFlag, m.username, m.pwFlag, m.password = p.UsernameFlag, p.Username, p.PasswordFlag, p.Password
		m.props = propsOfFeedmq(p.Properties)
	case *packets.Connack:
		m.sessionPresent, m.reason, m.props = p.SessionPresent, byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	case *packets.Publish:
		m.qos, m.dup, m.retain, m.topic, m.id, m.payload = byte(p.QoS), p.Dup, p.Retain, p.TopicName, p.PacketID, p.Payload
		m.props = propsOfFeedmq(p.Properties)
	case *packets.Puback:
		m.id, m.reason, m.props = p.PacketID, byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	case *packets.Pubrec:
		m.id, m.reason, m.props = p.PacketID, byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	case *packets.Pubrel:
		m.id, m.reason, m.props = p.PacketID, byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	case *packets.Pubcomp:
		m.id, m.reason, m.props = p.PacketID, byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	case *packets.Subscribe:
		m.id, m.props = p.PacketID, propsOfFeedmq(p.Properties)
		for _, s := range p.Subscriptions {
			m.subs = append(m.subs, sub{filter: s.TopicFilter, qos: byte(s.QoS), retainHandling: byte(s.RetainHandling), noLocal: s.NoLocal, retainAsPubl: s.RetainAsPublished})
		}
	case *packets.Suback:
		m.id, m.props = p.PacketID, propsOfFeedmq(p.Properties)
		for _, c := range p.ReasonCodes {
			m.reasons = append(m.reasons, byte(c))
		}
	case *packets.Unsubscribe:
		m.id, m.props, m.filters = p.PacketID, propsOfFeedmq(p.Properties), p.TopicFilters
	case *packets.Unsuback:
		m.id, m.props = p.PacketID, propsOfFeedmq(p.Properties)
		for _, c := range p.ReasonCodes {
			m.reasons = append(m.reasons, byte(c))
		}
	case *packets.Disconnect:
		m.reason, m.props = byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	case *packets.Auth:
		m.reason, m.props = byte(p.ReasonCode), propsOfFeedmq(p.Properties)
	}
	return m.view()
}

func propsOfPaho(p *pahogolang.Properties) propModel {
	pm := propModel{bytes: map[byte]byte{}, u16: map[byte]uint16{}, u32: map[byte]uint32{}, strs: map[byte]string{}, bins: map[byte][]byte{}}
	if p == nil {
		return pm
	}
	for id, v := range map[byte]*byte{0x01: p.PayloadFormat, 0x17: p.RequestProblemInfo, 0x19: p.RequestResponseInfo,
		0x24: p.MaximumQOS, 0x25: p.RetainAvailable, 0x28: p.WildcardSubAvailable, 0x29: p.SubIDAvailable, 0x2a: p.SharedSubAvailable} {
		if v != nil {
			pm.bytes[id] = *v
		}
	}
	for id, v := range map[byte]*uint16{0x13: p.ServerKeepAlive, 0x21: p.ReceiveMaximum, 0x22: p.TopicAliasMaximum, 0x23: p.TopicAlias} {
		if v != nil {
			pm.u16[id] = *v
		}
	}
	for id, v := range map[byte]*uint32{0x02: p.MessageExpiry, 0x11: p.SessionExpiryInterval, 0x18: p.WillDelayInterval, 0x27: p.MaximumPacketSize} {
		if v != nil {
			pm.u32[id] = *v
		}
	}
	for id, v := range map[byte]string{0x03: p.ContentType, 0x08: p.ResponseTopic, 0x12: p.AssignedClientID, 0x15: p.AuthMethod,
		0x1a: p.ResponseInfo, 0x1c: p.ServerReference, 0x1f: p.ReasonString} {
		if v != "" {
			pm.strs[id] = v
		}
	}
	for id, v := range map[byte][]byte{0x09: p.CorrelationData, 0x16: p.AuthData} {
		if len(v) > 0 {
			pm.bins[id] = v
		}
	}
	pm.subID = p.SubscriptionIdentifier
	for _, u := range p.User {
		pm.user = append(pm.user, [2]string{u.Key, u.Value})
	}
	return pm
}

func viewPaho(cp *pahogolang.ControlPacket) string {
	m := &model{typ: cp.Type}
	switch p := cp.Content.(type) {
	case *pahogolang.Connect:
		m.clientID, m.keepAlive, m.cleanStart, m.willFlag = p.ClientID, p.KeepAlive, p.CleanStart, p.WillFlag
		m.willQoS, m.willRetain, m.willTopic, m.willMessage = p.WillQOS, p.WillRetain, p.WillTopic, p.WillMessage
		m.willProps = propsOfPaho(p.WillProperties)
		m.userFlag, m.username, m.pwFlag, m.password = p.UsernameFlag, p.Username, p.PasswordFlag, p.Password
		m.props = propsOfPaho(p.Properties)
	case *pahogolang.Connack:
		m.sessionPresent, m.reason, m.props = p.SessionPresent, p.ReasonCode, propsOfPaho(p.Properties)
	case *pahogolang.Publish:
		m.qos, m.dup, m.retain, m.topic, m.id, m.payload = p.QoS, p.Duplicate, p.Retain, p.Topic, p.PacketID, p.Payload
		m.props = propsOfPaho(p.Properties)
	case *pahogolang.Puback:
		m.id, m.reason, m.props = p.PacketID, p.ReasonCode, propsOfPaho(p.Properties)
	case *pahogolang.Pubrec:
		m.id, m.reason, m.props = p.PacketID, p.ReasonCode, propsOfPaho(p.Properties)
	case *pahogolang.Pubrel:
		m.id, m.reason, m.props = p.PacketID, p.ReasonCode, propsOfPaho(p.Properties)
	case *pahogolang.Pubcomp:
		m.id, m.reason, m.props = p.PacketID, p.ReasonCode, propsOfPaho(p.Properties)
	case *pahogolang.Subscribe:
		m.id, m.props = p.PacketID, propsOfPaho(p.Properties)
		for _, s := range p.Subscriptions {
			m.subs = append(m.subs, sub{filter: s.Topic, qos: s.QoS, retainHandling: s.RetainHandling, noLocal: s.NoLocal, retainAsPubl: s.RetainAsPublished})
		}
	case *pahogolang.Suback:
		m.id, m.props, m.reasons = p.PacketID, propsOfPaho(p.Properties), p.Reasons
	case *pahogolang.Unsubscribe:
		m.id, m.props, m.filters = p.PacketID, propsOfPaho(p.Properties), p.Topics
	case *pahogolang.Unsuback:
		m.id, m.props, m.reasons = p.PacketID, propsOfPaho(p.Properties), p.Reasons
	case *pahogolang.Disconnect:
		m.reason, m.props = p.ReasonCode, propsOfPaho(p.Properties)
	case *pahogolang.Auth:
		m.reason, m.props = p.ReasonCode, propsOfPaho(p.Properties)
	}
	return m.view()
}
