package store_test

import (
	"fmt"
	"log"
	"os"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// A QoS 2 message stored before it is sent survives a restart: the new
// process finds it, with the PUBREL that replaced it, in Load.
func ExampleOpenFile() {
	dir, err := os.MkdirTemp("", "feedmq-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.OpenFile(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	msg := &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "sensors/1", Payload: []byte("21.5")}
	if err := s.Put(store.Key{Dir: store.Outbound, Seq: 1}, msg); err != nil { // before it has a packet identifier
		log.Fatal(err)
	}
	if err := s.Put(store.Key{Dir: store.Outbound, Seq: 2}, msg); err != nil {
		log.Fatal(err)
	}
	// Message 1 was sent with packet identifier 7 and PUBREC came.
	if err := s.Put(store.Key{Dir: store.Outbound, Seq: 1}, &packets.Pubrel{PacketID: 7}); err != nil {
		log.Fatal(err)
	}
	// We received a QoS 2 message with packet identifier 3 and sent PUBREC.
	if err := s.Put(store.Key{Dir: store.Inbound, Seq: 3}, &packets.Pubrec{PacketID: 3}); err != nil {
		log.Fatal(err)
	}
	s.Close()

	// After a restart.
	s, err = store.OpenFile(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	entries, err := s.Load()
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		switch p := e.Packet.(type) {
		case *packets.Publish:
			fmt.Printf("%v: resend PUBLISH %s %q, packet identifier %d\n", e.Key, p.TopicName, p.Payload, p.PacketID)
		case *packets.Pubrel:
			fmt.Printf("%v: resend PUBREL, packet identifier %d\n", e.Key, p.PacketID)
		case *packets.Pubrec:
			fmt.Printf("%v: awaiting PUBREL, packet identifier %d\n", e.Key, p.PacketID)
		}
	}
	// Output:
	// outbound 1: resend PUBREL, packet identifier 7
	// outbound 2: resend PUBLISH sensors/1 "21.5", packet identifier 0
	// inbound 3: awaiting PUBREL, packet identifier 3
}
