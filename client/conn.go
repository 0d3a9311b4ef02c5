package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// conn is one network connection and its reader and writer goroutines.
type conn struct {
	c              *Client
	nc             net.Conn
	broker         string // URL without credentials
	epoch          uint64
	sessionPresent bool

	out      chan outPacket // to the writer; the only path to the network
	pingresp chan struct{}  // reader to writer, capacity 1
	lastRecv atomic.Int64   // UnixNano of the last packet read

	done     chan struct{} // closed when the connection is torn down
	failOnce sync.Once
	err      error // why it ended; set before done is closed
	wg       sync.WaitGroup
}

// outPacket is one packet for the writer; done, if set, learns whether the
// packet was written.
type outPacket struct {
	p    packets.Packet
	done func(error)
}

// enqueue hands a packet to the writer without blocking the session: the
// queue is sized for the send window, and a writer that cannot keep up
// within the write timeout ends the connection anyway.
func (cn *conn) enqueue(p packets.Packet, done func(error)) {
	select {
	case cn.out <- outPacket{p, done}:
	case <-cn.done:
		if done != nil {
			done(cn.err)
		}
	}
}

// fail tears the connection down once, recording why.
func (cn *conn) fail(err error) {
	cn.failOnce.Do(func() {
		cn.err = err
		close(cn.done)
		cn.nc.Close()
	})
}

// connectFirst makes the first connection, retrying with backoff when
// Config.ConnectRetry is set.
func (c *Client) connectFirst(ctx context.Context) (*conn, error) {
	b := c.newBackoff()
	for attempt := 1; ; attempt++ {
		cn, err := c.connectAny(ctx)
		if err == nil {
			return cn, nil
		}
		var refused *ConnectError
		if !c.s.ConnectRetry || (errors.As(err, &refused) && refused.Permanent() && !c.s.RetryOnAuthFailure) {
			return nil, err
		}
		delay := b.NextBackOff()
		c.hookReconnecting(attempt, delay)
		if werr := c.sleep(ctx, delay); werr != nil {
			return nil, fmt.Errorf("client: connect: %w (last attempt: %w)", werr, err)
		}
	}
}

// connectAny tries each broker in turn and returns the first accepted
// connection; otherwise the last error.
func (c *Client) connectAny(ctx context.Context) (*conn, error) {
	var last error
	for _, u := range c.s.brokers {
		cn, err := c.connectTo(ctx, u)
		if err == nil {
			return cn, nil
		}
		c.s.log.Info("connection attempt failed", "broker", u.Redacted(), "err", err)
		last = err
		var refused *ConnectError
		if errors.As(err, &refused) && refused.Permanent() {
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

var epochs atomic.Uint64 // distinct connection numbers within the process

// connectTo dials one broker and performs the CONNECT/CONNACK exchange. It
// starts the connection's reader and writer only once CONNACK accepted it,
// so CONNECT is always the first packet (MQTT-3.1.0-1).
func (c *Client) connectTo(ctx context.Context, u *url.URL) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.ConnectTimeout)
	defer cancel()
	username, password := c.s.Username, c.s.Password
	if username == "" && u.User != nil {
		username = u.User.Username()
		password, _ = u.User.Password()
	}
	if c.s.Credentials != nil {
		var err error
		if username, password, err = c.s.Credentials(ctx); err != nil {
			return nil, fmt.Errorf("client: credentials: %w", err)
		}
	}
	dial := c.s.Dial
	if dial == nil {
		dial = c.s.Transport.Dial
	}
	nc, err := dial(ctx, u)
	if err != nil {
		return nil, err
	}
	broker := u.Redacted()
	// The handshake honours ctx through the connection's deadline.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	connack, err := c.handshake(nc, username, password)
	stop()
	if err != nil {
		nc.Close()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
			return nil, ctxErr // cancelled by the caller
		}
		// The connection's deadline may fire a moment before ctx's timer
		// does; either way the broker did not answer in time.
		if isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w (%s): %w", ErrConnackTimeout, broker, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("client: %s: %w", broker, err)
	}
	if connack.ReturnCode != packets.ConnackAccepted {
		nc.Close()
		return nil, &ConnectError{Code: connack.ReturnCode, Broker: broker}
	}
	if connack.SessionPresent && !c.s.PersistentSession {
		// MQTT-3.2.2-1: a clean session never resumes one; a broker that
		// says otherwise has state we must not use.
		nc.Close()
		return nil, fmt.Errorf("%w: session present on a clean session (MQTT-3.2.2-1)", ErrProtocolViolation)
	}
	nc.SetDeadline(time.Time{})
	cn := &conn{
		c:              c,
		nc:             nc,
		broker:         broker,
		epoch:          epochs.Add(1),
		sessionPresent: connack.SessionPresent,
		out:            make(chan outPacket, c.s.MaxInflight+64),
		pingresp:       make(chan struct{}, 1),
		done:           make(chan struct{}),
	}
	cn.lastRecv.Store(time.Now().UnixNano())
	c.s.log.Info("connected", "broker", broker, "session_present", connack.SessionPresent)
	return cn, nil
}

// handshake sends CONNECT and reads CONNACK, which must be the first packet
// from the broker (MQTT-3.2.0-1).
func (c *Client) handshake(nc net.Conn, username, password string) (*packets.Connack, error) {
	connect := c.s.connectPacket(username, password)
	c.s.log.Debug("sent", "packet", connect.String())
	if _, err := connect.WriteTo(nc); err != nil {
		return nil, err
	}
	c.stats.packetsOut.Add(1)
	// ReadPacket reads no byte past CONNACK, so the connection's Reader
	// starts exactly at the next packet.
	p, err := packets.ReadPacket(nc)
	if err != nil {
		return nil, err
	}
	c.s.log.Debug("received", "packet", p.String())
	connack, ok := p.(*packets.Connack)
	if !ok {
		return nil, fmt.Errorf("%w: %s before CONNACK (MQTT-3.2.0-1)", ErrProtocolViolation, p.Type())
	}
	return connack, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// startWriter starts the writer, before the session is given the
// connection: what the session queues then (resends, resubscriptions) may
// exceed the writer's queue.
func (cn *conn) startWriter() {
	cn.wg.Add(1)
	go cn.writeLoop()
}

// run starts the reader, once the session has the connection so that no ack
// arrives before it, and returns when reader and writer have exited.
func (cn *conn) run() {
	cn.wg.Add(1)
	go cn.readLoop()
	cn.wg.Wait()
}

// readLoop reads packets and hands them to the session. It never runs user
// code, so a slow handler cannot delay PINGRESP or acks.
func (cn *conn) readLoop() {
	defer cn.wg.Done()
	c := cn.c
	r := packets.NewReader(cn.nc)
	r.SetMaxPacketSize(c.s.MaxPacketSize)
	debug := c.s.log.Enabled(context.Background(), slog.LevelDebug)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			cn.fail(readError(err))
			return
		}
		cn.lastRecv.Store(time.Now().UnixNano())
		c.stats.packetsIn.Add(1)
		if debug {
			// String never shows a password.
			c.s.log.Debug("received", "packet", p.String())
		}
		var op func(*session)
		epoch := cn.epoch
		switch p := p.(type) {
		case *packets.Pingresp:
			select {
			case cn.pingresp <- struct{}{}:
			default:
			}
			continue
		case *packets.Publish:
			// The Reader reuses its buffer: copy once, here, before the
			// message leaves this goroutine.
			m := &Message{
				Topic:     p.TopicName,
				Payload:   append([]byte(nil), p.Payload...),
				QoS:       p.QoS,
				Retained:  p.Retain,
				Duplicate: p.Dup,
				PacketID:  p.PacketID,
				epoch:     epoch,
			}
			op = func(s *session) { s.onPublish(m) }
		case *packets.Puback:
			id := p.PacketID
			op = func(s *session) { s.onPuback(epoch, id) }
		case *packets.Pubrec:
			id := p.PacketID
			op = func(s *session) { s.onPubrec(epoch, id) }
		case *packets.Pubrel:
			id := p.PacketID
			op = func(s *session) { s.onPubrel(id) }
		case *packets.Pubcomp:
			id := p.PacketID
			op = func(s *session) { s.onPubcomp(epoch, id) }
		case *packets.Suback:
			id, codes := p.PacketID, append([]packets.SubackCode(nil), p.ReturnCodes...)
			op = func(s *session) { s.onSuback(cn, id, codes) }
		case *packets.Unsuback:
			id := p.PacketID
			op = func(s *session) { s.onUnsuback(cn, id) }
		default:
			// CONNACK again, or a packet only clients send (MQTT-4.8.0-1).
			cn.fail(fmt.Errorf("%w: broker sent %s", ErrProtocolViolation, p.Type()))
			return
		}
		select {
		case c.ops <- op:
		case <-cn.done:
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// readError names what went wrong with the stream.
func readError(err error) error {
	var pe *packets.Error
	if errors.As(err, &pe) {
		// A malformed packet closes the connection (MQTT-4.8.0-1).
		return fmt.Errorf("client: malformed packet from the broker: %w", err)
	}
	return fmt.Errorf("client: reading from the broker: %w", err)
}

// writeLoop is the only writer of the connection. It batches what is queued
// into one write, and sends PINGREQ when the connection has been quiet for
// the keepalive interval in either direction, so a half-open link is found
// within keepalive plus the ping timeout even while the client only
// publishes (MQTT-3.1.2-23).
func (cn *conn) writeLoop() {
	defer cn.wg.Done()
	c := cn.c
	ka := c.s.KeepAlive
	debug := c.s.log.Enabled(context.Background(), slog.LevelDebug)
	buf := make([]byte, 0, 16<<10)
	var dones []func(error)
	lastSent := time.Now()

	var kaTimer, pingTimer *time.Timer
	var kaC, pingC <-chan time.Time
	if ka > 0 {
		kaTimer = time.NewTimer(ka)
		defer kaTimer.Stop()
		kaC = kaTimer.C
	}
	pingOutstanding := false

	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		cn.nc.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
		_, err := cn.nc.Write(buf)
		c.stats.bytesOut.Add(int64(len(buf)))
		buf = buf[:0]
		lastSent = time.Now()
		for _, d := range dones {
			d(err)
		}
		dones = dones[:0]
		return err
	}
	encode := func(op outPacket) (last bool) {
		b, err := op.p.Append(buf)
		if err != nil {
			// The session only queues packets it built; a failure here is a
			// bug, reported to the caller rather than sent.
			if op.done != nil {
				op.done(err)
			}
			return false
		}
		buf = b
		c.stats.packetsOut.Add(1)
		if debug {
			c.s.log.Debug("sent", "packet", op.p.String())
		}
		if op.done != nil {
			dones = append(dones, op.done)
		}
		_, isDisconnect := op.p.(*packets.Disconnect)
		return isDisconnect
	}
	for {
		select {
		case op := <-cn.out:
			last := encode(op)
			// Batch whatever else is already queued, up to a bounded size.
			for !last && len(buf) < 64<<10 {
				select {
				case op = <-cn.out:
					last = encode(op)
					continue
				default:
				}
				break
			}
			if err := flush(); err != nil {
				cn.fail(fmt.Errorf("client: writing to the broker: %w", err))
				cn.drain()
				return
			}
			if last {
				// Nothing may follow DISCONNECT (MQTT-3.14.4-2).
				cn.fail(errDisconnected)
				cn.drain()
				return
			}
		case <-kaC:
			now := time.Now()
			lastRecv := time.Unix(0, cn.lastRecv.Load())
			// The next check is due when either direction has been quiet
			// for the whole interval.
			quiet := max(now.Sub(lastSent), now.Sub(lastRecv))
			if !pingOutstanding && quiet >= ka {
				encode(outPacket{p: &packets.Pingreq{}})
				if err := flush(); err != nil {
					cn.fail(fmt.Errorf("client: writing to the broker: %w", err))
					cn.drain()
					return
				}
				pingOutstanding = true
				pingTimer = time.NewTimer(c.s.PingTimeout)
				pingC = pingTimer.C
				quiet = 0
			}
			kaTimer.Reset(max(ka-quiet, time.Millisecond))
		case <-cn.pingresp:
			if pingOutstanding {
				pingOutstanding = false
				pingTimer.Stop()
				pingC = nil
			}
		case <-pingC:
			cn.fail(ErrPingTimeout)
			cn.drain()
			return
		case <-cn.done:
			cn.drain()
			return
		}
	}
}

// drain fails whatever is still queued for a connection that ended.
func (cn *conn) drain() {
	for {
		select {
		case op := <-cn.out:
			if op.done != nil {
				op.done(cn.err)
			}
		default:
			return
		}
	}
}
