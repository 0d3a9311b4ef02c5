package packets_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/feedmq/feedmq/packets"
)

func ExamplePublish_Append() {
	p := &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "a/b", PacketID: 1, Payload: []byte("hi")}
	b, err := p.Append(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", b)

	q, n, err := packets.Decode(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, q)
	// Output:
	// 32 09 00 03 61 2f 62 00 01 68 69
	// 11 PUBLISH{Dup:false QoS:1 Retain:false TopicName:"a/b" PacketID:1 Payload:<2 bytes>}
}

func ExampleNewReader() {
	stream := []byte{
		0x20, 0x02, 0x00, 0x00, // CONNACK, accepted
		0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i', // PUBLISH QoS 0 "a/b" "hi"
		0xd0, 0x00, // PINGRESP
	}
	r := packets.NewReader(bytes.NewReader(stream))
	r.SetMaxPacketSize(64 << 10)
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		switch p := p.(type) {
		case *packets.Publish:
			// The payload is valid only until the next ReadPacket.
			payload := bytes.Clone(p.Payload)
			fmt.Printf("%s %s %q\n", p.Type(), p.TopicName, payload)
		default:
			fmt.Println(p.Type())
		}
	}
	// Output:
	// CONNACK
	// PUBLISH a/b "hi"
	// PINGRESP
}

func ExampleReader_SetSkipOversizePublish() {
	var stream []byte
	big := &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "cam/1/jpeg", PacketID: 7, Payload: make([]byte, 100<<10)}
	stream, _ = big.Append(stream)
	small := &packets.Publish{TopicName: "cam/1/status", Payload: []byte("ok")}
	stream, _ = small.Append(stream)

	r := packets.NewReader(bytes.NewReader(stream))
	r.SetMaxPacketSize(64 << 10)
	r.SetSkipOversizePublish(true)
	var acks []byte // what the read loop hands to the writer
	for {
		p, err := r.ReadPacket()
		var oe *packets.OversizeError
		switch {
		case err == io.EOF:
			fmt.Printf("acks: % x\n", acks)
			return
		case errors.As(err, &oe) && oe.Skipped:
			// Report the message, and acknowledge it so that the broker
			// does not send it again. The connection stays up.
			pub := oe.Packet.(*packets.Publish)
			fmt.Println(pub.TopicName, oe.Size, "bytes:", err)
			switch pub.QoS {
			case packets.AtLeastOnce:
				ack := packets.Puback{PacketID: pub.PacketID}
				acks, _ = ack.Append(acks)
			case packets.ExactlyOnce:
				ack := packets.Pubrec{PacketID: pub.PacketID}
				acks, _ = ack.Append(acks)
			}
			continue
		case err != nil:
			fmt.Println("close the connection:", err)
			return
		}
		fmt.Println(p)
	}
	// Output:
	// cam/1/jpeg 102414 bytes: packets: skipped PUBLISH{Dup:false QoS:1 Retain:false TopicName:"cam/1/jpeg" PacketID:7}: remaining length 102414 exceeds the limit of 65536 bytes
	// PUBLISH{Dup:false QoS:0 Retain:false TopicName:"cam/1/status" Payload:<2 bytes>}
	// acks: 40 02 00 07
}

func ExampleError() {
	// A PUBREL whose fixed header flags are 0000 instead of 0010.
	_, _, err := packets.Decode([]byte{0x60, 0x02, 0x00, 0x01})
	var e *packets.Error
	if errors.As(err, &e) {
		fmt.Println(e.Type, e.Field, e.Rule, errors.Is(err, packets.ErrMalformed))
	}
	// Output: PUBREL Flags MQTT-3.6.1-1 true
}

func ExampleMatch() {
	fmt.Println(packets.Match("sport/+/player1", "sport/tennis/player1"))
	fmt.Println(packets.Match("sport/#", "sport"))
	fmt.Println(packets.Match("#", "$SYS/uptime"))
	// Output:
	// true
	// true
	// false
}
