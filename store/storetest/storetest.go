// Package storetest checks that a store.Store implementation behaves as the
// store package documents, as testing/fstest checks an fs.FS.
//
// Like testing/fstest, it imports nothing outside the standard library but
// feedmq's own packets and store, so a store author who runs it compiles no
// test framework.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// Run tests a Store implementation. open returns a fresh, empty store: a new
// instance, or one over a new directory. reopen closes s and returns a store
// over the same persistent state, as a restarted process would open it; it
// is nil for volatile stores, and the tests of persistence are then skipped.
//
// Run closes every store it gets, ignoring the error (the Close test closes
// some of them first).
func Run(t *testing.T, open func(t *testing.T) store.Store, reopen func(t *testing.T, s store.Store) store.Store) {
	t.Helper()
	h := harness{open: open, reopen: reopen}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, harness)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"Order", testOrder},
		{"PubrelReplacesPublish", testPubrelReplacesPublish},
		{"Inbound", testInbound},
		{"Delete", testDelete},
		{"Reset", testReset},
		{"Close", testClose},
		{"Invalid", testInvalid},
		{"CallerOwnsMemory", testCallerOwnsMemory},
		{"Concurrent", testConcurrent},
		{"ReopenKeepsEntries", testReopenKeepsEntries},
		{"ReopenAfterReset", testReopenAfterReset},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type harness struct {
	open   func(t *testing.T) store.Store
	reopen func(t *testing.T, s store.Store) store.Store
}

// new returns a fresh store that is closed when the test ends.
func (h harness) new(t *testing.T) store.Store {
	t.Helper()
	s := h.open(t)
	if isNil(s) {
		t.Fatal("open returned nil")
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// again reopens s, or skips the test for a volatile store.
func (h harness) again(t *testing.T, s store.Store) store.Store {
	t.Helper()
	s2 := h.reopen(t, s)
	if isNil(s2) {
		t.Fatal("reopen returned nil")
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// isNil reports whether v is nil, or an interface holding a nil pointer,
// map, slice, channel or func: a store returned as a typed nil is no store.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

func (h harness) needReopen(t *testing.T) {
	t.Helper()
	if h.reopen == nil {
		t.Skip("volatile store: no reopen")
	}
}

func out(seq uint64) store.Key { return store.Key{Dir: store.Outbound, Seq: seq} }
func in(id uint16) store.Key   { return store.Key{Dir: store.Inbound, Seq: uint64(id)} }

// samplePublishes returns outbound PUBLISH packets covering the fields a
// store must keep: both QoS levels, with and without a packet identifier,
// DUP, retain, empty, large and binary payloads, and MQTT 5.0 properties.
func samplePublishes() []*packets.Publish {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []*packets.Publish{
		{QoS: packets.AtLeastOnce, TopicName: "a/b", PacketID: 1, Payload: []byte("hello")},
		{QoS: packets.ExactlyOnce, TopicName: "a/b", PacketID: 0xffff, Payload: []byte("world")},
		{QoS: packets.AtLeastOnce, TopicName: "no/id/yet", Payload: []byte("queued while offline")},
		{QoS: packets.ExactlyOnce, TopicName: "no/id/yet", Payload: []byte("queued too")},
		{Dup: true, QoS: packets.AtLeastOnce, Retain: true, TopicName: "dup/retain", PacketID: 7, Payload: []byte("again")},
		{Dup: true, QoS: packets.ExactlyOnce, Retain: true, TopicName: "dup/retain", PacketID: 8, Payload: []byte("again 2")},
		{Retain: true, QoS: packets.ExactlyOnce, TopicName: "retain/no/id"},
		{QoS: packets.AtLeastOnce, TopicName: "empty/nil", PacketID: 9},
		{QoS: packets.ExactlyOnce, TopicName: "empty/non-nil", PacketID: 10, Payload: []byte{}},
		{QoS: packets.AtLeastOnce, TopicName: "ünïcødé/トピック", PacketID: 11, Payload: bytes.Repeat([]byte("large "), 64<<10/6)},
		{QoS: packets.ExactlyOnce, TopicName: "binary", PacketID: 12, Payload: all},
		{QoS: packets.AtLeastOnce, TopicName: "mqtt5/props", PacketID: 13, Payload: []byte("v5"), Properties: props5()},
		{QoS: packets.ExactlyOnce, TopicName: "mqtt5/no/id/yet", Payload: []byte("v5 queued"), Properties: props5()},
	}
}

// props5 is what MQTT 5.0 adds to a message, which a store must keep: user
// properties in order (a name repeated), content type, response topic,
// correlation data, expiry and payload format.
func props5() *packets.Properties {
	ps := &packets.Properties{UserProperties: []packets.StringPair{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}}}
	ps.SetContentType("application/json")
	ps.SetResponseTopic("reply/here")
	ps.SetCorrelationData([]byte{0, 1, 2})
	ps.SetMessageExpiryInterval(60)
	ps.SetPayloadFormatIndicator(1)
	return ps
}

// normalize returns p with an empty payload as nil, so that packets compare
// equal whichever way their empty payload is spelled.
func normalize(p packets.Packet) packets.Packet {
	if pub, ok := p.(*packets.Publish); ok && pub != nil {
		cp := *pub
		if len(cp.Payload) == 0 {
			cp.Payload = nil
		}
		return &cp
	}
	return p
}

func normalizeAll(entries []store.Entry) []store.Entry {
	out := make([]store.Entry, len(entries))
	for i, e := range entries {
		out[i] = store.Entry{Key: e.Key, Packet: normalize(e.Packet)}
	}
	return out
}

// put stores p under k and records it in want.
func put(t *testing.T, s store.Store, want map[store.Key]packets.Packet, k store.Key, p packets.Packet) {
	t.Helper()
	if err := s.Put(k, p); err != nil {
		t.Fatalf("Put(%v, %v): %v", k, p.Type(), err)
	}
	if want != nil {
		want[k] = clonePacket(p)
	}
}

// clonePacket returns a deep copy of p, for expectations the store under
// test cannot share memory with.
func clonePacket(p packets.Packet) packets.Packet {
	switch p := p.(type) {
	case *packets.Publish:
		cp := *p
		cp.Payload = bytes.Clone(p.Payload)
		return &cp
	case *packets.Pubrel:
		cp := *p
		return &cp
	case *packets.Pubrec:
		cp := *p
		return &cp
	}
	panic(fmt.Sprintf("storetest: unexpected %T", p))
}

// expected returns want as Load should return it.
func expected(want map[store.Key]packets.Packet) []store.Entry {
	entries := make([]store.Entry, 0, len(want))
	for k, p := range want {
		entries = append(entries, store.Entry{Key: k, Packet: p})
	}
	slices.SortFunc(entries, func(a, b store.Entry) int { return compareKeys(a.Key, b.Key) })
	return entries
}

func compareKeys(a, b store.Key) int {
	if a.Dir != b.Dir {
		return int(a.Dir) - int(b.Dir)
	}
	switch {
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// requireLoad checks that Load returns exactly want, in order, and stops
// the test if not.
func requireLoad(t *testing.T, s store.Store, want map[store.Key]packets.Packet) []store.Entry {
	t.Helper()
	got, err := s.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if d := diffEntries(normalizeAll(got), normalizeAll(expected(want))); d != "" {
		t.Fatalf("Load returned other entries than were stored: %s", d)
	}
	return got
}

// diffEntries returns "" when got and want are deeply equal, and otherwise
// says where they differ, one line per differing position.
func diffEntries(got, want []store.Entry) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "got %d entries, want %d", len(got), len(want))
	for i := range max(len(got), len(want)) {
		g, w := "(none)", "(none)"
		if i < len(got) {
			g = describe(got[i])
		}
		if i < len(want) {
			w = describe(want[i])
		}
		if i < len(got) && i < len(want) && reflect.DeepEqual(got[i], want[i]) {
			continue
		}
		fmt.Fprintf(&b, "\n[%d] got  %s\n    want %s", i, g, w)
	}
	return b.String()
}

// describe formats an entry for a failure message. A PUBLISH shows the
// start of its payload besides the length its String method gives, so that
// a changed payload of the same length is visible.
func describe(e store.Entry) string {
	if e.Packet == nil {
		return fmt.Sprintf("%v: <nil>", e.Key)
	}
	s := fmt.Sprintf("%v: %T %v", e.Key, e.Packet, e.Packet)
	if pub, ok := e.Packet.(*packets.Publish); ok && pub != nil {
		const show = 24
		if len(pub.Payload) > show {
			s += fmt.Sprintf(" payload %q...", pub.Payload[:show])
		} else {
			s += fmt.Sprintf(" payload %q", pub.Payload)
		}
	}
	return s
}

func testEmpty(t *testing.T, h harness) {
	s := h.new(t)
	got, err := s.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("Load of a new store: %s", diffEntries(got, nil))
	}
	if err := s.Reset(); err != nil {
		t.Fatalf("Reset of an empty store: %v", err)
	}
	if err := s.Delete(out(1)); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testRoundTrip(t *testing.T, h harness) {
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	for i, p := range samplePublishes() {
		put(t, s, want, out(uint64(i+1)), p)
	}
	got := requireLoad(t, s, want)

	// The PacketID 0 of a PUBLISH stored before it had one comes back as 0.
	for _, e := range got {
		pub := e.Packet.(*packets.Publish)
		if pub.TopicName == "no/id/yet" && pub.PacketID != 0 {
			t.Errorf("%v: PacketID %d, want 0", e.Key, pub.PacketID)
		}
	}
	// Loading twice gives the same.
	requireLoad(t, s, want)
}

func testOrder(t *testing.T, h harness) {
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	// Put order is neither key order nor direction order.
	keys := []store.Key{
		out(5), in(0xffff), out(0), out(1 << 40), in(1), out(3),
		out(math.MaxUint64), in(300), out(2), out(1 << 16), in(2), out(0x100),
	}
	for i, k := range keys {
		var p packets.Packet
		switch k.Dir {
		case store.Outbound:
			p = &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "order", PacketID: uint16(i + 1), Payload: []byte{byte(i)}}
		case store.Inbound:
			p = &packets.Pubrec{PacketID: uint16(k.Seq)}
		}
		put(t, s, want, k, p)
	}
	got := requireLoad(t, s, want)
	gotKeys := make([]store.Key, len(got))
	for i, e := range got {
		gotKeys[i] = e.Key
	}
	wantKeys := []store.Key{
		out(0), out(2), out(3), out(5), out(0x100), out(1 << 16), out(1 << 40), out(math.MaxUint64),
		in(1), in(2), in(300), in(0xffff),
	}
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("Load returned the keys in the order\n%v\nwant\n%v", gotKeys, wantKeys)
	}
}

func testPubrelReplacesPublish(t *testing.T, h harness) {
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	for seq := uint64(1); seq <= 4; seq++ {
		put(t, s, want, out(seq), &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "qos2", PacketID: uint16(seq + 100), Payload: []byte("m")})
	}
	// PUBREC came for the messages 3 and 1, in that order.
	put(t, s, want, out(3), &packets.Pubrel{PacketID: 103})
	put(t, s, want, out(1), &packets.Pubrel{PacketID: 101})
	got := requireLoad(t, s, want)
	if len(got) != 4 {
		t.Fatalf("Load returned %d entries, want 4", len(got))
	}
	for i, wantType := range []packets.Packet{&packets.Pubrel{}, &packets.Publish{}, &packets.Pubrel{}, &packets.Publish{}} {
		if reflect.TypeOf(got[i].Packet) != reflect.TypeOf(wantType) {
			t.Errorf("entry %d (%v) is a %T, want %T", i, got[i].Key, got[i].Packet, wantType)
		}
	}

	// A replacement may also go the other way (a caller rewriting a
	// PUBLISH with DUP set, say): the last Put wins.
	put(t, s, want, out(2), &packets.Publish{Dup: true, QoS: packets.ExactlyOnce, TopicName: "qos2", PacketID: 102, Payload: []byte("m")})
	put(t, s, want, out(3), &packets.Pubrel{PacketID: 103})
	requireLoad(t, s, want)

	// PUBCOMP for 3.
	mustDelete(t, s, out(3))
	delete(want, out(3))
	requireLoad(t, s, want)
}

func testInbound(t *testing.T, h harness) {
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	for _, id := range []uint16{42, 1, 0xffff, 7} {
		put(t, s, want, in(id), &packets.Pubrec{PacketID: id})
	}
	requireLoad(t, s, want)
	// Inbound and outbound keys with the same number are distinct.
	put(t, s, want, out(42), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "t", PacketID: 42})
	requireLoad(t, s, want)
	// PUBREL for 42.
	mustDelete(t, s, in(42))
	delete(want, in(42))
	requireLoad(t, s, want)
	// Put again under the same key (a retransmitted PUBLISH after PUBREC
	// was sent) replaces it.
	put(t, s, want, in(7), &packets.Pubrec{PacketID: 7})
	requireLoad(t, s, want)
}

func testDelete(t *testing.T, h harness) {
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	for seq := uint64(1); seq <= 3; seq++ {
		put(t, s, want, out(seq), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "d", PacketID: uint16(seq)})
	}
	put(t, s, want, in(9), &packets.Pubrec{PacketID: 9})

	mustDelete(t, s, out(2))
	delete(want, out(2))
	requireLoad(t, s, want)

	// Missing keys, and deleting twice, are not errors.
	for _, k := range []store.Key{out(2), out(99), out(math.MaxUint64), in(2), in(0xffff), {Dir: store.Inbound}, {}} {
		if err := s.Delete(k); err != nil {
			t.Errorf("Delete(%v): %v", k, err)
		}
	}
	requireLoad(t, s, want)

	// A deleted key can be used again.
	put(t, s, want, out(2), &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "d", PacketID: 20})
	mustDelete(t, s, in(9))
	delete(want, in(9))
	requireLoad(t, s, want)
}

func testReset(t *testing.T, h harness) {
	s := h.new(t)
	for seq := uint64(1); seq <= 5; seq++ {
		put(t, s, nil, out(seq), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "r", PacketID: uint16(seq)})
		put(t, s, nil, in(uint16(seq)), &packets.Pubrec{PacketID: uint16(seq)})
	}
	put(t, s, nil, out(2), &packets.Pubrel{PacketID: 2})
	if err := s.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	requireLoad(t, s, nil)

	want := make(map[store.Key]packets.Packet)
	put(t, s, want, out(1), &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "after/reset", PacketID: 1})
	requireLoad(t, s, want)
}

func testClose(t *testing.T, h harness) {
	s := h.new(t)
	put(t, s, nil, out(1), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "c", PacketID: 1})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	wantClosed(t, "Put", s.Put(out(2), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "c", PacketID: 2}))
	wantClosed(t, "Put of an invalid packet", s.Put(out(3), &packets.Puback{PacketID: 3}))
	wantClosed(t, "Delete", s.Delete(out(1)))
	got, err := s.Load()
	wantClosed(t, "Load", err)
	if got != nil {
		t.Errorf("Load after Close returned %d entries in a non-nil slice, want nil", len(got))
	}
	wantClosed(t, "Reset", s.Reset())
	wantClosed(t, "second Close", s.Close())
}

// wantClosed checks that err, returned by op on a closed store, is
// store.ErrClosed.
func wantClosed(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("%s after Close: error %v, want store.ErrClosed", op, err)
	}
}

// mustDelete deletes k and stops the test if that fails.
func mustDelete(t *testing.T, s store.Store, k store.Key) {
	t.Helper()
	if err := s.Delete(k); err != nil {
		t.Fatalf("Delete(%v): %v", k, err)
	}
}

func testInvalid(t *testing.T, h harness) {
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	put(t, s, want, out(1), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "kept", PacketID: 1, Payload: []byte("kept")})
	put(t, s, want, in(1), &packets.Pubrec{PacketID: 1})

	valid := &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "t", PacketID: 1}
	for _, tc := range []struct {
		name string
		k    store.Key
		p    packets.Packet
	}{
		{"outbound QoS 0 PUBLISH", out(1), &packets.Publish{TopicName: "t", Payload: []byte("x")}},
		{"outbound PUBLISH QoS 3", out(1), &packets.Publish{QoS: 3, TopicName: "t", PacketID: 1}},
		{"outbound PUBLISH wildcard topic", out(1), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "a/+", PacketID: 1}},
		{"outbound PUBLISH empty topic", out(1), &packets.Publish{QoS: packets.AtLeastOnce, PacketID: 1}},
		{"outbound PUBREL without packet id", out(1), &packets.Pubrel{}},
		{"outbound PUBACK", out(1), &packets.Puback{PacketID: 1}},
		{"outbound PUBREC", out(1), &packets.Pubrec{PacketID: 1}},
		{"outbound PUBCOMP", out(1), &packets.Pubcomp{PacketID: 1}},
		{"outbound SUBSCRIBE", out(1), &packets.Subscribe{PacketID: 1}},
		{"outbound PINGREQ", out(1), &packets.Pingreq{}},
		{"outbound CONNECT", out(1), &packets.Connect{}},
		{"outbound nil", out(1), nil},
		{"outbound nil *Publish", out(1), (*packets.Publish)(nil)},
		{"outbound nil *Pubrel", out(1), (*packets.Pubrel)(nil)},
		{"inbound PUBLISH", in(1), &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "t", PacketID: 1}},
		{"inbound PUBREL", in(1), &packets.Pubrel{PacketID: 1}},
		{"inbound PUBACK", in(1), &packets.Puback{PacketID: 1}},
		{"inbound PUBCOMP", in(1), &packets.Pubcomp{PacketID: 1}},
		{"inbound nil", in(1), nil},
		{"inbound nil *Pubrec", in(1), (*packets.Pubrec)(nil)},
		{"inbound PUBREC with another packet id", in(1), &packets.Pubrec{PacketID: 2}},
		{"inbound key 0", in(0), &packets.Pubrec{}},
		{"inbound key beyond 16 bits", store.Key{Dir: store.Inbound, Seq: 0x10001}, &packets.Pubrec{PacketID: 1}},
		{"direction 0", store.Key{Seq: 1}, valid},
		{"direction 3", store.Key{Dir: 3, Seq: 1}, valid},
	} {
		err := s.Put(tc.k, tc.p)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Put returned %v, want store.ErrInvalid", tc.name, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: error %q does not start with \"store: \"", tc.name, err)
		}
	}
	// A refused Put leaves what was stored under its key.
	requireLoad(t, s, want)
}

func testCallerOwnsMemory(t *testing.T, h harness) {
	s := h.new(t)
	payload := []byte("original payload")
	p := &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "own", PacketID: 5, Payload: payload}
	if err := s.Put(out(1), p); err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := map[store.Key]packets.Packet{
		out(1): &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "own", PacketID: 5, Payload: []byte("original payload")},
	}

	// The caller reuses its buffer and its packet.
	copy(payload, "XXXXXXXXXXXXXXXX")
	p.TopicName = "changed"
	p.PacketID = 6
	p.Dup = true
	got := requireLoad(t, s, want)

	// Changing what Load returned changes neither the store nor another Load.
	got2 := requireLoad(t, s, want)
	pub := got[0].Packet.(*packets.Publish)
	copy(pub.Payload, "YYYYYYYYYYYYYYYY")
	pub.Payload = append(pub.Payload, "more"...)
	pub.TopicName = "changed too"
	requireLoad(t, s, want)
	if p := got2[0].Packet.(*packets.Publish).Payload; !bytes.Equal(p, []byte("original payload")) {
		t.Errorf("changing what one Load returned changed another's payload to %q", p)
	}
}

func testConcurrent(t *testing.T, h harness) {
	s := h.new(t)
	const (
		workers = 8
		perG    = 20
	)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want = make(map[store.Key]packets.Packet)
	)
	for g := range workers {
		wg.Go(func() {
			local := make(map[store.Key]packets.Packet)
			for i := range perG {
				seq := uint64(g*1000 + i)
				id := uint16(g*perG + i + 1)
				pub := &packets.Publish{QoS: packets.ExactlyOnce, TopicName: fmt.Sprintf("g/%d", g), PacketID: id, Payload: []byte{byte(g), byte(i)}}
				if err := s.Put(out(seq), pub); err != nil {
					t.Errorf("Put(%v): %v", out(seq), err)
					return
				}
				local[out(seq)] = clonePacket(pub)
				if err := s.Put(in(id), &packets.Pubrec{PacketID: id}); err != nil {
					t.Errorf("Put(%v): %v", in(id), err)
					return
				}
				local[in(id)] = &packets.Pubrec{PacketID: id}
				switch i % 3 {
				case 0: // completed
					if err := s.Delete(out(seq)); err != nil {
						t.Errorf("Delete(%v): %v", out(seq), err)
						return
					}
					delete(local, out(seq))
				case 1: // PUBREC came
					if err := s.Put(out(seq), &packets.Pubrel{PacketID: id}); err != nil {
						t.Errorf("Put(%v): %v", out(seq), err)
						return
					}
					local[out(seq)] = &packets.Pubrel{PacketID: id}
				}
				if i%2 == 0 { // PUBREL came
					if err := s.Delete(in(id)); err != nil {
						t.Errorf("Delete(%v): %v", in(id), err)
						return
					}
					delete(local, in(id))
				}
				if i%5 == 0 {
					entries, err := s.Load()
					if err != nil {
						t.Errorf("Load: %v", err)
						return
					}
					if !slices.IsSortedFunc(entries, func(a, b store.Entry) int { return compareKeys(a.Key, b.Key) }) {
						t.Errorf("Load returned entries out of order")
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k, p := range local {
				want[k] = p
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	requireLoad(t, s, want)
}

func testReopenKeepsEntries(t *testing.T, h harness) {
	h.needReopen(t)
	s := h.new(t)
	want := make(map[store.Key]packets.Packet)
	for i, p := range samplePublishes() {
		put(t, s, want, out(uint64(i+10)), p)
	}
	put(t, s, want, out(math.MaxUint64), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "last", PacketID: 3})
	put(t, s, want, out(11), &packets.Pubrel{PacketID: 0xffff})
	put(t, s, want, in(1), &packets.Pubrec{PacketID: 1})
	put(t, s, want, in(0xffff), &packets.Pubrec{PacketID: 0xffff})
	put(t, s, want, in(2), &packets.Pubrec{PacketID: 2})
	mustDelete(t, s, in(2))
	delete(want, in(2))
	mustDelete(t, s, out(10))
	delete(want, out(10))

	s = h.again(t, s)
	requireLoad(t, s, want)

	// The reopened store works, and its changes survive another reopen.
	put(t, s, want, out(12), &packets.Pubrel{PacketID: 12})
	mustDelete(t, s, in(1))
	delete(want, in(1))
	put(t, s, want, in(3), &packets.Pubrec{PacketID: 3})
	s = h.again(t, s)
	requireLoad(t, s, want)
}

func testReopenAfterReset(t *testing.T, h harness) {
	h.needReopen(t)
	s := h.new(t)
	for seq := uint64(1); seq <= 3; seq++ {
		put(t, s, nil, out(seq), &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "r", PacketID: uint16(seq)})
		put(t, s, nil, in(uint16(seq)), &packets.Pubrec{PacketID: uint16(seq)})
	}
	if err := s.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	s = h.again(t, s)
	requireLoad(t, s, nil)

	want := make(map[store.Key]packets.Packet)
	put(t, s, want, out(4), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "r", PacketID: 4})
	s = h.again(t, s)
	requireLoad(t, s, want)
}
