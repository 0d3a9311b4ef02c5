// connect.go holds connecting and reconnecting: the one loop that dials,
// performs the CONNECT/CONNACK exchange, serves each connection and waits
// with backoff in between, for the first Connect and for every reconnect.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/feedmq/feedmq/packets"
)

// connLoop is the state of the connection loop, handed on from goroutine
// to goroutine.
type connLoop struct {
	ctx     context.Context // Connect's until the first connection is up, then the client's
	first   chan<- error    // the outcome of the first connection, then nil
	b       backoff.BackOff
	attempt int
}

// report sends the outcome of the first connection to Connect, once.
func (l *connLoop) report(err error) {
	if l.first != nil {
		l.first <- err
		l.first = nil
	}
}

// connectionLoop owns the client's connections: it serves cn (when not
// nil) until it is lost, then dials with backoff until a broker accepts,
// until the client stops or gives up. Each accepted connection is served
// by a fresh goroutine running this loop: dialling and the handshake grow
// a goroutine's stack, and an idle connection should not keep that stack
// for as long as it lasts. The read loop runs on the serving goroutine.
func (c *Client) connectionLoop(l *connLoop, cn *conn) {
	defer c.wg.Done()
	if cn != nil && !c.serveUntilLost(l, cn) {
		return
	}
	for {
		cn, err := c.connectAny(l.ctx)
		if err != nil {
			if !c.connectFailed(l, err) || !c.backoffWait(l, err) {
				return
			}
			continue
		}
		if err := c.register(cn); err != nil {
			l.report(err)
			return // the client is stopping
		}
		l.report(nil)
		l.ctx = c.ctx
		c.wg.Add(1)
		go c.connectionLoop(l, cn)
		return
	}
}

// serveUntilLost serves cn until it ends, and reports whether to
// reconnect, after the backoff wait.
func (c *Client) serveUntilLost(l *connLoop, cn *conn) bool {
	up := time.Now()
	lost := c.serve(cn)
	if c.stopping() {
		return false
	}
	c.connectionLost(cn, lost)
	if u, ok := c.redirect(lost); ok {
		c.redirectTo.Store(u)
		l.b.Reset() // a redirect is not a failure: go at once
		return true
	}
	var re *ReasonError
	serverSaid := errors.As(lost, &re) && re.Packet == packets.TypeDisconnect
	switch {
	case c.s.Reconnect.Disabled:
		c.giveUp(lost)
		return false
	case serverSaid && re.Code == packets.ReasonSessionTakenOver:
		// Another client connected with our identifier: reconnecting would
		// take the session back and start a fight neither side wins.
		c.giveUp(lost)
		return false
	case serverSaid && slowDown(re.Code):
		// The broker asked for less load: wait as if the previous attempts
		// had failed too, whatever the connection's age.
		l.b.NextBackOff()
	case time.Since(up) >= c.s.Reconnect.StableAfter:
		l.b.Reset()
		l.attempt = 0
	}
	return c.backoffWait(l, lost)
}

// slowDown reports whether a 5.0 DISCONNECT reason asks the client to come
// back later rather than at once.
func slowDown(code packets.ReasonCode) bool {
	switch code {
	case packets.ReasonServerBusy, packets.ReasonServerShuttingDown, packets.ReasonQuotaExceeded,
		packets.ReasonMessageRateTooHigh, packets.ReasonConnectionRateExceeded:
		return true
	}
	return false
}

// connectFailed decides what a failed attempt means: it reports whether to
// try again.
func (c *Client) connectFailed(l *connLoop, err error) bool {
	var refused *ConnectError
	permanent := errors.As(err, &refused) && refused.Permanent() && !c.s.RetryOnAuthFailure
	switch {
	case l.first != nil && (!c.s.ConnectRetry || permanent):
		l.report(err)
		return false
	case l.first != nil && l.ctx.Err() != nil:
		l.report(fmt.Errorf("client: connect: %w (last attempt: %w)", l.ctx.Err(), err))
		return false
	case permanent:
		c.giveUp(err)
		return false
	}
	return true
}

// backoffWait waits before the next attempt, and reports false when the
// client stopped (or Connect's context ended) meanwhile.
func (c *Client) backoffWait(l *connLoop, last error) bool {
	l.attempt++
	delay := l.b.NextBackOff()
	c.hookReconnecting(l.attempt, delay)
	if err := c.sleep(l.ctx, delay); err != nil {
		l.report(fmt.Errorf("client: connect: %w (last attempt: %w)", err, last))
		return false
	}
	return true
}

// connectionLost reports a connection that ended without Disconnect.
func (c *Client) connectionLost(cn *conn, err error) {
	c.s.log.Warn("connection lost", "broker", cn.broker, "err", err)
	if fn := c.s.OnConnectionLost; fn != nil {
		c.hooks.call(func() { fn(err) })
	}
}

// register hands a new connection to the session and waits until the
// session has taken it: resends, resubscriptions and the queue are on their
// way. The reader starts only after this, so nothing arrives before.
func (c *Client) register(cn *conn) error {
	if err := c.call(context.Background(), func(s *session) { s.onConnected(cn) }); err != nil {
		cn.fail(err)
		cn.writers.Wait()
		cn.endWaiters()
		return err
	}
	c.current.Store(cn)
	c.stats.connects.Add(1)
	c.stats.connected.Store(true)
	if fn := c.s.OnConnect; fn != nil {
		ev := ConnectedEvent{Broker: cn.broker, SessionPresent: cn.sessionPresent, Server: cn.server}
		c.hooks.call(func() { fn(ev) })
	}
	return nil
}

// serve runs a registered connection's read loop on this goroutine until
// the connection ends, and returns why.
func (c *Client) serve(cn *conn) error {
	stop := context.AfterFunc(c.ctx, func() { cn.fail(ErrClosed) })
	if cn.ka != nil {
		cn.ka.start()
	}
	cn.readLoop()
	stop()
	if cn.ka != nil {
		cn.ka.stop()
	}
	c.current.CompareAndSwap(cn, nil)
	c.stats.connected.Store(false)
	cn.writers.Wait()
	cn.endWaiters()
	c.post(op{fn: func(s *session) { s.onConnectionLost(cn) }})
	return cn.err
}

// connectAny tries each broker in turn and returns the first accepted
// connection; otherwise the last error.
func (c *Client) connectAny(ctx context.Context) (*conn, error) {
	var last error
	brokers := c.s.brokers
	if u := c.redirectTo.Swap(nil); u != nil {
		// The last connection ended with a redirect: there first.
		brokers = append([]*url.URL{u}, brokers...)
	}
	for _, u := range brokers {
		cn, err := c.connectRedirected(ctx, u)
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

// connectRedirected connects to u, following the redirects of CONNACK
// refusals that Config.MQTT5.OnRedirect accepts, at most MaxRedirects.
func (c *Client) connectRedirected(ctx context.Context, u *url.URL) (*conn, error) {
	cn, err := c.connectTo(ctx, u)
	for range MaxRedirects {
		to, ok := c.redirect(err)
		if !ok {
			break
		}
		cn, err = c.connectTo(ctx, to)
	}
	return cn, err
}

// epochs numbers connections distinctly within the process, so that an ack
// can never be taken for one of another connection.
var epochs atomic.Uint64

// connectTo dials one broker and performs the CONNECT/CONNACK exchange. The
// connection's goroutines start only once CONNACK accepted it, so CONNECT
// is always the first packet (MQTT-3.1.0-1).
func (c *Client) connectTo(ctx context.Context, u *url.URL) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.ConnectTimeout)
	defer cancel()
	username, password, err := c.credentials(ctx, u)
	if err != nil {
		return nil, err
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
	connack, err := c.handshake(ctx, nc, username, password)
	stop()
	if err != nil {
		nc.Close()
		return nil, handshakeError(ctx, broker, err)
	}
	if refused := connectRefusal(connack, broker); refused != nil {
		nc.Close()
		return nil, refused
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
		level:          c.s.Protocol,
		server:         defaultServer(max(c.s.KeepAlive, 0)),
		tracing:        debugEnabled(c.s.log) || c.s.OnPacket != nil,
		plain:          plainSocket(nc),
		linger:         writerLinger,
		wake:           make(chan struct{}, 1),
		done:           make(chan struct{}),
	}
	if cn.level == MQTT5 {
		cn.server = serverSettings(connack, max(c.s.KeepAlive, 0), expiryDuration(c.s.sessionExpiry()))
		if c.s.PersistentSession && cn.server.SessionExpiry == 0 {
			// The broker overrode the expiry: the session ends with this
			// connection, whatever PersistentSession asked (mosquitto #1546).
			c.s.log.Warn("the broker set Session Expiry Interval 0: the session will not outlive the connection", "broker", broker)
		}
		if id := cn.server.AssignedClientID; id != "" {
			// Reused on every reconnection, so that the session the
			// broker keeps for it can be resumed.
			c.assignedID.Store(&id)
		}
	}
	if ka := cn.server.KeepAlive; ka > 0 {
		cn.ka = newKeepalive(ka, c.s.PingTimeout,
			func() { _ = cn.send(&packets.Pingreq{}) },
			func() { cn.fail(ErrPingTimeout) })
	}
	c.s.log.Info("connected", "broker", broker, "session_present", connack.SessionPresent)
	return cn, nil
}

// credentials picks the user name and password for one attempt.
func (c *Client) credentials(ctx context.Context, u *url.URL) (username, password string, err error) {
	username, password = c.s.Username, c.s.Password
	if username == "" && u.User != nil {
		username = u.User.Username()
		password, _ = u.User.Password()
	}
	if c.s.Credentials != nil {
		if username, password, err = c.s.Credentials(ctx); err != nil {
			return "", "", fmt.Errorf("client: credentials: %w", err)
		}
	}
	return username, password, nil
}

// handshakeError says why the CONNECT/CONNACK exchange failed.
func handshakeError(ctx context.Context, broker string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
		return ctxErr // cancelled by the caller
	}
	// The connection's deadline may fire a moment before ctx's timer does;
	// either way the broker did not answer in time.
	if isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s): %w", ErrConnackTimeout, broker, context.DeadlineExceeded)
	}
	return fmt.Errorf("client: %s: %w", broker, err)
}

// handshake sends CONNECT and reads CONNACK, which must be the first packet
// from the broker (MQTT-3.2.0-1).
func (c *Client) handshake(ctx context.Context, nc net.Conn, username, password string) (*packets.Connack, error) {
	clientID := c.s.ClientID
	if id := c.assignedID.Load(); id != nil {
		clientID = *id
	}
	connect := c.s.connectPacketFor(clientID, username, password)
	auth := c.s.MQTT5.Authenticator
	if auth != nil {
		data, err := auth.Start(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
		}
		connect.Properties.SetAuthenticationMethod(auth.Method())
		if data != nil {
			connect.Properties.SetAuthenticationData(data)
		}
	}
	c.trace(true, connect)
	b, err := connect.AppendVersion(nil, c.s.Protocol)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(b); err != nil {
		return nil, err
	}
	c.stats.packetsOut.Add(1)
	if auth != nil {
		return c.authenticate(ctx, nc, auth)
	}
	// ReadPacket reads no byte past CONNACK, so the connection's Reader
	// starts exactly at the next packet.
	p, err := packets.ReadPacketVersion(nc, c.s.Protocol)
	if err != nil {
		return nil, err
	}
	c.trace(false, p)
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

func (c *Client) hookReconnecting(attempt int, delay time.Duration) {
	c.stats.reconnects.Add(1)
	if fn := c.s.OnReconnecting; fn != nil {
		c.hooks.call(func() { fn(attempt, delay) })
	}
}

// newBackoff builds the exponential backoff with jitter of Config.Reconnect.
func (c *Client) newBackoff() backoff.BackOff {
	r := c.s.Reconnect
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.InitialDelay
	b.MaxInterval = r.MaxDelay
	b.Multiplier = r.Multiplier
	b.RandomizationFactor = r.Jitter
	b.MaxElapsedTime = 0 // never stop on time; the context decides
	b.Reset()
	return b
}

// sleep waits for d or until ctx or the client ends.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return c.stoppedErr()
	}
}
