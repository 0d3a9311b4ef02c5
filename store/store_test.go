package store_test

import (
	"testing"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// BenchmarkPutDelete measures one QoS 1 message's life in a store: Put when
// it is published, Delete when its PUBACK comes.
func BenchmarkPutDelete(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"Memory", func(*testing.B) store.Store { return store.NewMemory() }},
		{"File", func(b *testing.B) store.Store { return openBench(b, nil) }},
		{"FileNoSync", func(b *testing.B) store.Store { return openBench(b, &store.FileOptions{NoSync: true}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.open(b)
			defer s.Close()
			p := &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "bench/topic", Payload: make([]byte, 256)}
			b.SetBytes(int64(len(p.Payload)))
			b.ReportAllocs()
			var seq uint64
			for b.Loop() {
				seq++
				p.PacketID = uint16(seq%0xffff) + 1
				k := store.Key{Dir: store.Outbound, Seq: seq}
				if err := s.Put(k, p); err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func openBench(b *testing.B, opts *store.FileOptions) store.Store {
	s, err := store.OpenFile(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
