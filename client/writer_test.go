package client

// Tests of the write side of a connection on a real loopback socket, with
// the connection built by hand: writeInline (a blocking Publish's packet
// written on the caller's goroutine) and its hand-over to the writer
// goroutine when the socket is full are not visible from the API, only
// their outcome on the wire is.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/feedmq/feedmq/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testConn returns a connection over a loopback TCP socket whose write
// side is the code under test, and the broker's end of the socket.
func testConn(t *testing.T) (*conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	require.NotNil(t, peer)
	c := &Client{s: &settings{Config: Config{WriteTimeout: 10 * time.Second}}}
	cn := &conn{
		c:     c,
		nc:    nc,
		level: MQTT311,
		plain: plainSocket(nc),
		// Short, so that the writer goroutine comes and goes and inline
		// writes and the writer take turns often.
		linger: 200 * time.Microsecond,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	require.True(t, cn.plain, "a TCP connection is a plain socket")
	t.Cleanup(func() {
		cn.fail(errConnEnded)
		peer.Close()
		waitWriters(t, cn)
		cn.endWaiters()
	})
	return cn, peer
}

// waitWriters waits for the writer goroutine and any inline write to end.
func waitWriters(t *testing.T, cn *conn) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		cn.writers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection's writes did not end")
	}
}

// testMsg is a QoS 1 message whose payload says which it is.
func testMsg(topic string, id uint16, size int) *outMsg {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(int(id)*31 + i)
	}
	return &outMsg{pub: packets.Publish{TopicName: topic, QoS: AtLeastOnce, PacketID: id, Payload: p}, waited: true}
}

// readPublishes reads n PUBLISHes from the broker's end of the socket.
func readPublishes(t *testing.T, peer net.Conn, n int) []*packets.Publish {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := packets.NewReader(peer)
	r.SetMaxPacketSize(packets.MaxRemainingLength)
	out := make([]*packets.Publish, 0, n)
	for range n {
		p, err := r.ReadPacket()
		require.NoError(t, err, "after %d PUBLISHes", len(out))
		pub, ok := p.(*packets.Publish)
		require.True(t, ok, "got %T", p)
		cp := *pub
		cp.Payload = bytes.Clone(pub.Payload)
		out = append(out, &cp)
	}
	return out
}

// writerRunning reports whether a writer goroutine runs on cn.
func writerRunning(cn *conn) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.writing
}

func TestInlineWriteOnIdleConnectionStartsNoWriter(t *testing.T) {
	cn, peer := testConn(t)
	for i := range 3 {
		m := testMsg("inline/idle", uint16(i+1), 100)
		require.NoError(t, cn.sendPublish(m, true))
		// Written before sendPublish returned, by this goroutine.
		assert.True(t, m.written.Load(), "message %d marked written", i)
		assert.False(t, writerRunning(cn), "message %d: no writer goroutine", i)
		got := readPublishes(t, peer, 1)[0]
		assert.Equal(t, m.pub.Payload, got.Payload)
	}
	// Without now, the writer goroutine writes it.
	cn.linger = time.Minute
	m := testMsg("inline/idle", 9, 100)
	require.NoError(t, cn.sendPublish(m, false))
	assert.True(t, writerRunning(cn), "the writer goroutine took it")
	assert.Equal(t, m.pub.Payload, readPublishes(t, peer, 1)[0].Payload)
}

// An inline write of a large packet does not leave its buffer on the
// connection: no writer runs afterwards to let it go.
func TestInlineWriteLetsLargeBuffersGo(t *testing.T) {
	cn, peer := testConn(t)
	for i, size := range []int{100, 300 << 10, 100} {
		m := testMsg("inline/large", uint16(i+1), size)
		got := make(chan *packets.Publish, 1)
		go func() { got <- readPublishes(t, peer, 1)[0] }()
		require.NoError(t, cn.sendPublish(m, true))
		assert.Equal(t, m.pub.Payload, (<-got).Payload)
		require.Eventually(t, m.written.Load, 10*time.Second, time.Millisecond)
		waitWriters(t, cn) // a part the socket did not take went to the writer
	}
	require.Eventually(t, func() bool { return !writerRunning(cn) }, 10*time.Second, time.Millisecond, "the writer went")
	cn.mu.Lock()
	defer cn.mu.Unlock()
	assert.LessOrEqual(t, cap(cn.pending), maxSide, "pending kept small")
	assert.LessOrEqual(t, cap(cn.side), maxSide, "the spare kept small")
}

func TestInlineWriteAfterWriterDeadlinePassed(t *testing.T) {
	cn, peer := testConn(t)
	// What the writer goroutine's last write leaves: a deadline that has
	// passed. A write that never waits is not refused for it.
	require.NoError(t, cn.nc.SetWriteDeadline(time.Now().Add(-time.Second)))
	m := testMsg("inline/deadline", 1, 100)
	require.NoError(t, cn.sendPublish(m, true))
	assert.True(t, m.written.Load())
	assert.False(t, writerRunning(cn), "written inline, not handed to the writer")
	assert.Equal(t, m.pub.Payload, readPublishes(t, peer, 1)[0].Payload)
}

// A packet larger than the socket takes at once is written in part by the
// caller and the rest by the writer goroutine, before any packet queued
// meanwhile, whole.
func TestInlineWriteHandsTheRestToTheWriter(t *testing.T) {
	cn, peer := testConn(t)
	cn.linger = time.Minute                 // the writer stays, to be seen
	big := testMsg("inline/big", 1, 16<<20) // more than loopback buffers hold
	require.NoError(t, cn.sendPublish(big, true))
	assert.False(t, big.written.Load(), "the broker read nothing: not all of it left")
	assert.True(t, writerRunning(cn), "the writer goroutine has the rest")
	var after []*outMsg
	for i := range 5 {
		m := testMsg("inline/after", uint16(i+2), 1000*i+1)
		after = append(after, m)
		require.NoError(t, cn.sendPublish(m, i%2 == 0))
	}
	got := readPublishes(t, peer, 6)
	assert.Equal(t, "inline/big", got[0].TopicName)
	assert.True(t, bytes.Equal(big.pub.Payload, got[0].Payload), "the big PUBLISH whole")
	for i, m := range after {
		assert.Equal(t, m.pub.PacketID, got[i+1].PacketID, "order")
		assert.Equal(t, m.pub.Payload, got[i+1].Payload, "message %d whole", i)
	}
	require.Eventually(t, func() bool {
		for _, m := range append(after, big) {
			if !m.written.Load() {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "every message marked written")
}

// Packets queued while an inline write is under way wait for it: the
// writer goroutine they start does not write before it, and the part the
// socket did not take goes out before them, even when they fill chunks of
// their own.
func TestInlineWriteKeepsOrderWithPacketsQueuedMeanwhile(t *testing.T) {
	cn, peer := testConn(t)
	cn.linger = time.Minute
	inside, goOn := make(chan struct{}), make(chan struct{})
	cn.inlineHook = func() {
		close(inside)
		<-goOn
	}
	big := testMsg("order/big", 1, 16<<20) // more than the socket takes at once
	sent := make(chan error, 1)
	go func() { sent <- cn.sendPublish(big, true) }()
	<-inside
	cn.inlineHook = nil // read by the next writeInline only, after goOn
	var meanwhile []*outMsg
	for i := range 4 {
		m := testMsg("order/meanwhile", uint16(i+2), 40000) // past half a chunk: into full
		meanwhile = append(meanwhile, m)
		require.NoError(t, cn.sendPublish(m, i%2 == 0))
	}
	assert.True(t, writerRunning(cn), "the packets queued meanwhile started the writer")
	time.Sleep(20 * time.Millisecond) // the writer's chance to write too early
	close(goOn)
	require.NoError(t, <-sent)
	got := readPublishes(t, peer, 5)
	assert.Equal(t, "order/big", got[0].TopicName, "the PUBLISH under way first")
	assert.True(t, bytes.Equal(big.pub.Payload, got[0].Payload), "whole")
	for i, m := range meanwhile {
		assert.Equal(t, m.pub.PacketID, got[i+1].PacketID, "order")
		assert.Equal(t, m.pub.Payload, got[i+1].Payload, "message %d whole", i)
	}
}

// Producers that wait and producers that do not, from many goroutines, with
// packets from 1 byte to twice a chunk and a broker that reads in fits:
// every packet arrives whole, each goroutine's in the order it sent them,
// whichever of inline writes and the writer goroutine carried them.
func TestInlineWriteUnderContention(t *testing.T) {
	cn, peer := testConn(t)
	const producers, each = 8, 300
	sizes := []int{1, 50, 3000, 70000, 128 << 10, 9000}
	var wg sync.WaitGroup
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range each {
				m := testMsg(fmt.Sprintf("contention/%d", g), uint16(i+1), sizes[rng.IntN(len(sizes))])
				if err := cn.sendPublish(m, rng.IntN(2) == 0); err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(50) == 0 {
					time.Sleep(time.Millisecond) // let the writer go quiet now and then
				}
			}
		}()
	}
	// The broker reads in fits: a pause now and then, so that the socket
	// fills and inline writes are cut short.
	slow := &pausingReader{r: peer, rng: rand.New(rand.NewPCG(7, 7))}
	r := packets.NewReader(slow)
	r.SetMaxPacketSize(packets.MaxRemainingLength)
	peer.SetReadDeadline(time.Now().Add(60 * time.Second))
	next := make([]int, producers)
	for n := range producers * each {
		p, err := r.ReadPacket()
		require.NoError(t, err, "after %d PUBLISHes", n)
		pub := p.(*packets.Publish)
		var g int
		_, err = fmt.Sscanf(pub.TopicName, "contention/%d", &g)
		require.NoError(t, err)
		next[g]++
		require.Equal(t, uint16(next[g]), pub.PacketID, "producer %d's order", g)
		want := testMsg("", pub.PacketID, len(pub.Payload)).pub.Payload
		require.True(t, bytes.Equal(want, pub.Payload), "producer %d message %d whole", g, pub.PacketID)
	}
	wg.Wait()
}

// pausingReader reads from r and sleeps a little before one read in
// twenty.
type pausingReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if p.rng.IntN(20) == 0 {
		time.Sleep(time.Duration(p.rng.IntN(3)) * time.Millisecond)
	}
	return p.r.Read(b)
}

// A connection that ends while a partly written packet waits for the
// writer ends its writes: nothing hangs, and the message is not marked
// written.
func TestInlineWriteEndsWithTheConnection(t *testing.T) {
	cn, peer := testConn(t)
	big := testMsg("inline/cut", 1, 16<<20)
	require.NoError(t, cn.sendPublish(big, true))
	require.False(t, big.written.Load())
	peer.Close()
	cn.fail(errConnEnded)
	waitWriters(t, cn)
	cn.endWaiters()
	assert.False(t, big.written.Load(), "not all of it left")
	// The writer may have met the reset before fail was called: the
	// connection's error is whichever came first.
	err := cn.sendPublish(testMsg("inline/cut", 2, 10), true)
	assert.Error(t, err, "nothing is taken after the end")
	assert.Equal(t, cn.err, err)
}
