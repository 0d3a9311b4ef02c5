// Package brokertest is a scripted MQTT 3.1.1 broker for fault tests: it
// does exactly what the test says, packet by packet, so that a test can
// withhold an acknowledgment, cut a connection at a chosen point, or send
// bytes no real broker would send.
//
// A Server listens on loopback TCP (New) or hands out in-memory connections
// through its Dial method (NewPipe), the latter for tests that run in
// testing/synctest, where time is fake. Each client connection is a Conn,
// scripted from the test goroutine:
//
//	srv := brokertest.New(t)
//	c := newClient(t, client.Config{Brokers: []string{srv.URL()}})
//	conn, _ := srv.AcceptConnected(t, false)
//	pub := conn.Expect(t, packets.TypePublish).(*packets.Publish)
//	conn.Close() // no PUBACK: the client must resend on the next connection
//
// Every wait is bounded by Server.Timeout through deadlines on the
// connection or the listener, and a missed expectation fails the test with
// t.Fatalf, so the methods that take a testing.TB must be called from the
// test's goroutine. Packets from the client are decoded with the packets
// codec, which checks every rule the specification gives for receiving, so
// a malformed packet from the client fails the test as well.
//
// Model: paho.golang internal/testserver.
package brokertest
