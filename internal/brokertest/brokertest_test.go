package brokertest

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/feedmq/feedmq/packets"
)

func TestFrame(t *testing.T) {
	tests := []struct {
		b    []byte
		want int
		err  bool
	}{
		{[]byte{0xc0}, 0, false},             // no length yet
		{[]byte{0xc0, 0x00}, 2, false},       // PINGREQ
		{[]byte{0x30, 0x03, 0x00}, 0, false}, // body incomplete
		{[]byte{0x30, 0x80}, 0, false},       // length continues
		{append([]byte{0x30, 0x80, 0x01}, make([]byte, 128)...), 131, false},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, true}, // 5 length bytes
	}
	for _, tt := range tests {
		n, err := frame(tt.b)
		if n != tt.want || (err != nil) != tt.err {
			t.Errorf("frame(% x) = %d, %v; want %d, error %v", tt.b, n, err, tt.want, tt.err)
		}
	}
}

// TestPipe scripts a client by hand over a pipe server: packets written in
// pieces are reassembled, silence and the close are seen in fake time.
func TestPipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewPipe(t)
		s.Timeout = time.Second
		cli, err := s.Dial(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			connect, _ := (&packets.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, ClientID: "x"}).Append(nil)
			cli.Write(connect[:3])
			cli.Write(connect[3:])
			if p, err := packets.ReadPacket(cli); err != nil || p.Type() != packets.TypeConnack {
				t.Errorf("client got %v, %v; want CONNACK", p, err)
			}
			time.Sleep(1500 * time.Millisecond) // fake time: the pause the server checks
			cli.Close()
		}()
		conn, connect := s.AcceptConnected(t, false)
		if connect.ClientID != "x" {
			t.Errorf("ClientID %q", connect.ClientID)
		}
		conn.ExpectNothing(t, time.Second)
		start := time.Now()
		conn.ExpectClosed(t)
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Errorf("closed after %v, want 500ms more", d)
		}
		<-done
		s.ExpectNoConnection(t, time.Second)
	})
}

// TestTCP checks Accept and ExpectClosed over loopback.
func TestTCP(t *testing.T) {
	s := New(t)
	nc, err := net.Dial("tcp", s.URL()[len("mqtt://"):])
	if err != nil {
		t.Fatal(err)
	}
	conn := s.Accept(t)
	(&packets.Pingreq{}).WriteTo(nc)
	conn.Expect(t, packets.TypePingreq)
	nc.Close()
	conn.ExpectClosed(t)
}
