package sink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a sink broker listening on TCP.
type Server struct {
	ln   net.Listener
	stop chan struct{} // closed by Close

	mu     sync.Mutex // guards conns and closed
	conns  map[*conn]struct{}
	closed bool

	wg sync.WaitGroup // the accept loop and every connection
}

// Listen starts a sink broker on addr, such as "127.0.0.1:0".
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, stop: make(chan struct{}), conns: map[*conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close closes the listener and every connection, and returns when all of
// the server's goroutines have exited.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
		for c := range s.conns {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			// Out of file descriptors, for example: wait a little, unless
			// the server is closing.
			t := time.NewTimer(10 * time.Millisecond)
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
				continue
			}
		}
		c := newConn(nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Sizes of a connection's buffers.
const (
	readBufferSize = 32 << 10
	// floodHighWater is how many bytes a flood lets wait for the writer
	// before it waits for the writer to take them.
	floodHighWater = 64 << 10
	// maxPacketSize bounds the packets the sink accepts.
	maxPacketSize = 16 << 20
)

// conn is one client connection.
type conn struct {
	// Immutable after newConn.
	nc      net.Conn
	done    chan struct{} // closed when the reader stops
	wake    chan struct{} // cap 1: out has bytes for the writer
	drained chan struct{} // cap 1: the writer took out

	// Owned by the reader goroutine.
	br      *bufio.Reader
	pending int    // bytes of the last packet still to discard from br
	big     []byte // body of a packet larger than br's buffer
	// version is the protocol level of CONNECT: 3, 4 or 5. Set by the
	// reader before it starts any flood, read by floods.
	version byte

	wmu sync.Mutex // guards out
	out []byte     // bytes waiting for the writer

	fmu      sync.Mutex // guards inflight and used
	inflight int        // flood messages not yet acknowledged
	used     []bool     // by packet identifier: those messages; made by the first flood
	nextID   uint16
	room     chan struct{} // cap 1: a flood slot was given back

	floods sync.WaitGroup
}

func newConn(nc net.Conn) *conn {
	return &conn{
		nc:      nc,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		drained: make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
		br:      bufio.NewReaderSize(nc, readBufferSize),
	}
}

// serve runs the connection: reads and answers until the client leaves
// or breaks the protocol, then stops the writer and the floods.
func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writer()
	}()
	c.read()
	close(c.done)
	c.nc.Close()
	c.floods.Wait()
	<-writerDone
}

// signal wakes whoever waits on ch, without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// queue appends packet bytes for the writer and returns how many bytes are
// now waiting.
func (c *conn) queue(p ...byte) int {
	c.wmu.Lock()
	wasEmpty := len(c.out) == 0
	c.out = append(c.out, p...)
	n := len(c.out)
	c.wmu.Unlock()
	if wasEmpty {
		signal(c.wake)
	}
	return n
}

// writer writes whatever is queued, taking the whole buffer each time,
// until the reader stops or a write fails.
func (c *conn) writer() {
	var spare []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.wmu.Lock()
		buf := c.out
		c.out = spare[:0]
		c.wmu.Unlock()
		if len(buf) > 0 {
			if _, err := c.nc.Write(buf); err != nil {
				c.nc.Close() // the reader stops too
				return
			}
		}
		spare = buf
		signal(c.drained)
	}
}

// read reads packets and answers them until an error or DISCONNECT.
func (c *conn) read() {
	for {
		h, body, err := c.readPacket()
		if err != nil {
			return
		}
		if err := c.handle(h, body); err != nil {
			if err != errDisconnect {
				fmt.Fprintf(logOutput, "sink: %s: %v\n", c.nc.RemoteAddr(), err)
			}
			return
		}
	}
}

// logOutput receives protocol errors. Tests may replace it.
var logOutput io.Writer = io.Discard

var errDisconnect = errors.New("sink: DISCONNECT")

// readPacket returns the next packet's first byte and its body, which is
// valid until the next call.
func (c *conn) readPacket() (byte, []byte, error) {
	if c.pending > 0 {
		if _, err := c.br.Discard(c.pending); err != nil {
			return 0, nil, err
		}
		c.pending = 0
	}
	h, err := c.br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := readVarint(c.br)
	if err != nil {
		return 0, nil, err
	}
	if n > maxPacketSize {
		return 0, nil, fmt.Errorf("sink: packet of %d bytes", n)
	}
	if n <= c.br.Size() {
		body, err := c.br.Peek(n)
		if err != nil {
			return 0, nil, err
		}
		c.pending = n
		return h, body, nil
	}
	if cap(c.big) < n {
		c.big = make([]byte, n)
	}
	body := c.big[:n]
	if _, err := io.ReadFull(c.br, body); err != nil {
		return 0, nil, err
	}
	return h, body, nil
}

// readVarint reads a remaining length (MQTT 3.1.1 §2.2.3).
func readVarint(r io.ByteReader) (int, error) {
	var n, shift int
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, errors.New("sink: remaining length longer than 4 bytes")
}

// appendVarint appends n as a remaining length.
func appendVarint(b []byte, n int) []byte {
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// skipProperties skips an MQTT 5.0 property block at the start of b.
func skipProperties(b []byte) ([]byte, error) {
	n, err := readVarint(&byteReader{b: b})
	if err != nil {
		return nil, err
	}
	size := len(appendVarint(nil, n))
	if size+n > len(b) {
		return nil, errShort
	}
	return b[size+n:], nil
}

// byteReader is an io.ByteReader over a slice that does not escape.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errShort
	}
	r.i++
	return r.b[r.i-1], nil
}

var errShort = errors.New("sink: packet too short")

// Control packet types (MQTT 3.1.1 §2.2.1).
const (
	typeConnect     = 1
	typePublish     = 3
	typePuback      = 4
	typePubrec      = 5
	typePubrel      = 6
	typePubcomp     = 7
	typeSubscribe   = 8
	typeUnsubscribe = 10
	typePingreq     = 12
	typeDisconnect  = 14
)

// handle answers one packet.
func (c *conn) handle(h byte, body []byte) error {
	switch h >> 4 {
	case typeConnect:
		if len(body) < 2 {
			return errShort
		}
		i := 2 + int(binary.BigEndian.Uint16(body))
		if len(body) <= i {
			return errShort
		}
		c.version = body[i]
		if c.version == 5 {
			c.queue(0x20, 3, 0, 0, 0) // CONNACK: no session, Success, no properties
		} else {
			c.queue(0x20, 2, 0, 0) // CONNACK: no session, accepted
		}
	case typePublish:
		qos := h >> 1 & 3
		if qos == 0 {
			return nil
		}
		if len(body) < 2 {
			return errShort
		}
		i := 2 + int(binary.BigEndian.Uint16(body))
		if len(body) < i+2 {
			return errShort
		}
		if qos == 1 {
			c.queue(typePuback<<4, 2, body[i], body[i+1])
		} else {
			c.queue(typePubrec<<4, 2, body[i], body[i+1])
		}
	case typePuback, typePubcomp:
		if len(body) < 2 {
			return errShort
		}
		c.release(binary.BigEndian.Uint16(body))
	case typePubrec:
		if len(body) < 2 {
			return errShort
		}
		c.queue(typePubrel<<4|2, 2, body[0], body[1])
	case typePubrel:
		if len(body) < 2 {
			return errShort
		}
		c.queue(typePubcomp<<4, 2, body[0], body[1])
	case typeSubscribe:
		return c.subscribe(body)
	case typeUnsubscribe:
		return c.unsubscribe(body)
	case typePingreq:
		c.queue(0xd0, 0)
	case typeDisconnect:
		return errDisconnect
	}
	return nil
}

// subscribe answers SUBSCRIBE, granting every QoS asked for, and starts the
// floods it names.
func (c *conn) subscribe(body []byte) error {
	if len(body) < 2 {
		return errShort
	}
	id := body[:2]
	rest := body[2:]
	if c.version == 5 {
		var err error
		if rest, err = skipProperties(rest); err != nil {
			return err
		}
	}
	var codes []byte
	var floods []flood
	for len(rest) > 0 {
		if len(rest) < 2 {
			return errShort
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n+1 {
			return errShort
		}
		filter := string(rest[2 : 2+n])
		qos := rest[2+n] & 3
		rest = rest[3+n:]
		codes = append(codes, qos)
		if f, ok, err := parseFlood(filter, qos); err != nil {
			return err
		} else if ok {
			floods = append(floods, f)
		}
	}
	suback := []byte{0x90}
	size := 2 + len(codes)
	if c.version == 5 {
		size++ // property length
	}
	suback = appendVarint(suback, size)
	suback = append(suback, id...)
	if c.version == 5 {
		suback = append(suback, 0)
	}
	suback = append(suback, codes...)
	c.queue(suback...)
	for _, f := range floods {
		c.floods.Add(1)
		go func() {
			defer c.floods.Done()
			c.flood(f)
		}()
	}
	return nil
}

// unsubscribe answers UNSUBSCRIBE.
func (c *conn) unsubscribe(body []byte) error {
	if len(body) < 2 {
		return errShort
	}
	if c.version != 5 {
		c.queue(0xb0, 2, body[0], body[1])
		return nil
	}
	rest, err := skipProperties(body[2:])
	if err != nil {
		return err
	}
	filters := 0
	for len(rest) > 0 {
		if len(rest) < 2 {
			return errShort
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return errShort
		}
		rest = rest[2+n:]
		filters++
	}
	unsuback := appendVarint([]byte{0xb0}, 3+filters)
	unsuback = append(unsuback, body[0], body[1], 0)
	unsuback = append(unsuback, make([]byte, filters)...) // Success
	c.queue(unsuback...)
	return nil
}

// flood is what a flood/... subscription asks for.
type flood struct {
	topic  string
	qos    byte
	count  int
	size   int
	window int
}

// FloodTopic returns the filter that makes the sink send count messages of
// size bytes at QoS qos, with at most window unacknowledged at QoS 1 and 2.
// The messages are published to the same name, so the filter matches them.
func FloodTopic(qos byte, count, size, window int) string {
	return fmt.Sprintf("flood/q%d/n%d/s%d/w%d", qos, count, size, window)
}

// parseFlood parses a filter made by FloodTopic; ok is false for other
// filters. The QoS is the one granted, which must be the one the filter
// names.
func parseFlood(filter string, granted byte) (f flood, ok bool, err error) {
	rest, ok := strings.CutPrefix(filter, "flood/")
	if !ok {
		return flood{}, false, nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return flood{}, false, fmt.Errorf("sink: flood filter %q: want flood/q<qos>/n<count>/s<size>/w<window>", filter)
	}
	var v [4]int
	for i, p := range []string{"q", "n", "s", "w"} {
		s, ok := strings.CutPrefix(parts[i], p)
		n, err := strconv.Atoi(s)
		if !ok || err != nil || n < 0 {
			return flood{}, false, fmt.Errorf("sink: flood filter %q: bad %q", filter, parts[i])
		}
		v[i] = n
	}
	if v[0] != int(granted) || v[0] > 2 || v[3] < 1 || v[3] > 65535 {
		return flood{}, false, fmt.Errorf("sink: flood filter %q subscribed at QoS %d", filter, granted)
	}
	return flood{topic: filter, qos: byte(v[0]), count: v[1], size: v[2], window: v[3]}, true, nil
}

// flood sends f's messages.
func (c *conn) flood(f flood) {
	// The packet, built once; only the packet identifier changes.
	remaining := 2 + len(f.topic) + f.size
	if f.qos > 0 {
		remaining += 2
	}
	if c.version == 5 {
		remaining++ // property length
	}
	pkt := appendVarint([]byte{typePublish<<4 | f.qos<<1}, remaining)
	pkt = binary.BigEndian.AppendUint16(pkt, uint16(len(f.topic)))
	pkt = append(pkt, f.topic...)
	idAt := len(pkt)
	if f.qos > 0 {
		pkt = append(pkt, 0, 0)
	}
	if c.version == 5 {
		pkt = append(pkt, 0)
	}
	for range f.size {
		pkt = append(pkt, 'x')
	}

	for range f.count {
		if f.qos > 0 {
			id, ok := c.acquire(f.window)
			if !ok {
				return
			}
			binary.BigEndian.PutUint16(pkt[idAt:], id)
		}
		if c.queue(pkt...) >= floodHighWater {
			select {
			case <-c.drained:
			case <-c.done:
				return
			}
		}
	}
}

// acquire takes a packet identifier for a flood message, waiting while
// window messages are unacknowledged. It returns false when the connection
// ended.
func (c *conn) acquire(window int) (uint16, bool) {
	for {
		c.fmu.Lock()
		if c.used == nil {
			c.used = make([]bool, 1<<16)
		}
		if c.inflight < window {
			for {
				c.nextID++
				if c.nextID != 0 && !c.used[c.nextID] {
					break
				}
			}
			id := c.nextID
			c.used[id] = true
			c.inflight++
			c.fmu.Unlock()
			return id, true
		}
		c.fmu.Unlock()
		select {
		case <-c.room:
		case <-c.done:
			return 0, false
		}
	}
}

// release gives back a flood message's slot on its PUBACK or PUBCOMP.
func (c *conn) release(id uint16) {
	c.fmu.Lock()
	if c.used != nil && c.used[id] {
		c.used[id] = false
		c.inflight--
	}
	c.fmu.Unlock()
	signal(c.room)
}
