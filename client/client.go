// client.go holds the Client and its life: New, Connect, Disconnect, Close,
// and how the client stops.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
)

// Client is an asynchronous MQTT client. Its methods are safe for concurrent
// use, including from handlers and hooks. The package documentation names
// its goroutines and what each owns.
type Client struct {
	// Immutable after New.
	s     *settings
	store store.Store // nil: the session's own maps are the store (see New)

	// Set up once by start; immutable after.
	startOnce sync.Once
	startErr  error
	ctx       context.Context // ends when the client stops
	cancel    context.CancelCauseFunc
	inbox     inbox // work for the session goroutine
	sess      *session
	wg        sync.WaitGroup // session goroutine, connection loop, writers

	// Shared by the flows; each type guards itself.
	pending    limiter              // MaxPending
	current    atomic.Pointer[conn] // the connection, nil while offline
	subs       atomic.Pointer[subTable]
	in         inbound    // inbound QoS 2 state and routing (connection loop)
	acks       ackTracker // inbound acknowledgments
	delivery   delivery   // handler queues, their goroutines and the budget
	hooks      hookRunner
	topics     topicCache                  // outbound topic names already validated
	notifyPool sync.Pool                   // wake-ups of blocking Publish calls
	payloads   atomic.Pointer[payloadPool] // PublishAsync's payload copies, made on first use
	responder  responder                   // Request's reply subscription

	assignedID   atomic.Pointer[string]  // client identifier a 5.0 broker assigned
	redirectTo   atomic.Pointer[url.URL] // where a 5.0 DISCONNECT redirected the client
	connectOnce  atomic.Bool
	closing      atomic.Bool   // no new work is accepted
	sessionStart atomic.Uint64 // epoch of the connection that began the broker's session
	done         chan struct{} // closed when the client has stopped
	doneErr      error         // why, set before done is closed

	stats stats
}

// New validates cfg and returns a client. It does no I/O and starts no
// goroutine; call Connect to go online.
//
// Without Config.Store the session's own in-flight maps hold QoS 1 and 2
// state: nothing else could read a store that only this client knows, so
// no second copy is kept.
func New(cfg Config) (*Client, error) {
	s, err := cfg.settle()
	if err != nil {
		return nil, err
	}
	c := &Client{s: s, store: cfg.Store, done: make(chan struct{})}
	c.pending.init(s.MaxPending)
	c.subs.Store(&subTable{})
	c.in.init(c)
	c.acks.c = c
	c.delivery.init(c)
	c.hooks.init(c)
	c.topics.init()
	c.notifyPool.New = newNotify
	return c, nil
}

// start loads the store and starts the session goroutine, once.
func (c *Client) start() error {
	c.startOnce.Do(func() {
		if c.closing.Load() {
			c.startErr = ErrClosed
			return
		}
		sess, err := newSession(c)
		if err != nil {
			c.startErr = err
			return
		}
		c.sess = sess
		c.ctx, c.cancel = context.WithCancelCause(context.Background())
		c.inbox.init()
		// Messages recovered from the store hold MaxPending places too, as
		// far as there are places.
		for _, m := range sess.recovered() {
			m.counted = c.pending.tryAcquire()
		}
	})
	return c.startErr
}

// Connect connects to the first broker that accepts the connection and
// starts automatic reconnection. It returns when CONNACK accepted the
// connection, when every broker failed (with Config.ConnectRetry: when ctx
// ends), or with a *ConnectError when a broker refused.
func (c *Client) Connect(ctx context.Context) error {
	if c.closing.Load() {
		return ErrClosed
	}
	if err := c.start(); err != nil {
		return err
	}
	if !c.connectOnce.CompareAndSwap(false, true) {
		return errors.New("client: Connect called twice")
	}
	first := make(chan error, 1)
	c.wg.Add(1)
	go c.connectionLoop(&connLoop{ctx: ctx, first: first, b: c.newBackoff()}, nil)
	if err := <-first; err != nil {
		c.connectOnce.Store(false)
		return err
	}
	return nil
}

// stoppedErr is the error for calls after the client stopped.
func (c *Client) stoppedErr() error {
	if c.ctx == nil {
		return ErrClosed
	}
	if cause := context.Cause(c.ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, errDisconnected) {
		return fmt.Errorf("%w: %w", ErrClosed, cause)
	}
	return ErrClosed
}

// stopping reports whether Disconnect, Close or a give-up began.
func (c *Client) stopping() bool { return c.closing.Load() || c.ctx.Err() != nil }

// Done is closed when the client has stopped: after Close or Disconnect, or
// when it gave up (a permanent CONNACK refusal, or a lost connection with
// reconnection disabled). Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped, or nil while it runs or after a
// Disconnect or Close.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.doneErr
	default:
		return nil
	}
}

// reportError hands an asynchronous problem to Config.OnError, or logs it.
func (c *Client) reportError(err error) {
	if c.s.OnError == nil {
		c.s.log.Warn("feedmq client", "err", err)
		return
	}
	c.hooks.call(func() { c.s.OnError(err) })
}

// Close stops the client at once. It sends DISCONNECT if connected, waiting
// for it to be written at most 500 ms, and does not wait for
// messages in flight. No handler starts after Close returns; a handler
// already running is not interrupted, and Close waits for it at most
// Config.CloseGrace. Messages not yet acknowledged end with ErrAbandoned (a
// file store keeps them for the next client); messages received and not yet
// handled are not acknowledged, so the broker sends them again to a
// persistent session.
func (c *Client) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Disconnect(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Disconnect stops accepting messages, waits until every accepted message
// is delivered or ctx ends, sends DISCONNECT (MQTT-3.14.4-1: the connection
// is then closed and nothing more is sent on it), and stops the client.
// Like Close, it stops handlers from starting and waits for running ones
// at most Config.CloseGrace; it is safe to call from a handler or a hook.
// When ctx ended first the error wraps ctx.Err() and says how many messages
// were abandoned.
func (c *Client) Disconnect(ctx context.Context) error {
	return c.DisconnectWith(ctx, DisconnectOptions{})
}

// DisconnectOptions are what an MQTT 5.0 DISCONNECT carries (MQTT 5.0
// §3.14). Set at 3.1.x, DisconnectWith returns ErrNeedsMQTT5 and does not
// disconnect.
type DisconnectOptions struct {
	// Reason is the reason code; 0 is a normal disconnection, and 0x04
	// (Disconnect with Will Message) asks the broker to publish the will.
	Reason packets.ReasonCode
	// SessionExpiry replaces the session expiry set at connection; nil
	// keeps it. A broker refuses a non-zero value when the connection
	// asked for 0 (MQTT5-3.14.2-2), so the client refuses it first.
	SessionExpiry *time.Duration
	// ReasonString and UserProperties are for the broker's logs.
	ReasonString   string
	UserProperties []UserProperty
}

// packet builds the DISCONNECT, or returns why it cannot be sent.
func (o *DisconnectOptions) packet(s *settings) (*packets.Disconnect, error) {
	if o.Reason == 0 && o.SessionExpiry == nil && o.ReasonString == "" && len(o.UserProperties) == 0 {
		return nil, nil
	}
	if s.Protocol != MQTT5 {
		return nil, fmt.Errorf("client: disconnect: %w", ErrNeedsMQTT5)
	}
	p := &packets.Disconnect{ReasonCode: o.Reason, Properties: &packets.Properties{UserProperties: o.UserProperties}}
	if o.ReasonString != "" {
		p.Properties.SetReasonString(o.ReasonString)
	}
	if o.SessionExpiry != nil {
		e := seconds(*o.SessionExpiry)
		if e != 0 && s.sessionExpiry() == 0 {
			return nil, errors.New("client: disconnect: a session that expires with the connection cannot be given a session expiry at DISCONNECT (MQTT5-3.14.2-2)")
		}
		p.Properties.SetSessionExpiryInterval(e)
	}
	if err := p.ValidateVersion(MQTT5); err != nil {
		return nil, fmt.Errorf("client: disconnect: %w", err)
	}
	return p, nil
}

// DisconnectWith is Disconnect with the reason code and properties of an
// MQTT 5.0 DISCONNECT.
func (c *Client) DisconnectWith(ctx context.Context, o DisconnectOptions) error {
	disc, err := o.packet(c.s)
	if err != nil {
		return err
	}
	if !c.closing.CompareAndSwap(false, true) {
		<-c.done
		return nil
	}
	c.startOnce.Do(func() {}) // a client never started has nothing to stop
	if c.sess == nil {
		c.finish(nil)
		return nil
	}
	var waitErr error
	if ctx.Err() == nil {
		waitErr = c.waitIdle(ctx)
	}
	c.delivery.stop()
	c.sendDisconnect(ctx, disc)
	abandoned := c.stop(errDisconnected)
	c.finish(nil)
	if waitErr != nil {
		return fmt.Errorf("client: disconnected with %d message(s) not delivered: %w", abandoned, waitErr)
	}
	return nil
}

// waitIdle waits until nothing is queued or in flight, or ctx ends.
func (c *Client) waitIdle(ctx context.Context) error {
	idle := make(chan struct{})
	if err := c.call(ctx, func(s *session) { s.notifyIdle(idle) }); err != nil {
		return err
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return nil
	}
}

// closeWriteWait bounds the wait for DISCONNECT to be written when the
// caller's context has ended (Close): a link that takes no data must not
// hold Close up.
const closeWriteWait = 500 * time.Millisecond

// disconnectTimeout bounds the wait for DISCONNECT to be written otherwise.
const disconnectTimeout = 5 * time.Second

// sendDisconnect queues DISCONNECT on the connection, as its last packet,
// and waits a bounded time for it to be written. It is tried even when ctx
// has ended: without DISCONNECT the broker would publish the will.
func (c *Client) sendDisconnect(ctx context.Context, disc *packets.Disconnect) {
	var sent <-chan struct{}
	if err := c.call(context.Background(), func(s *session) { sent = s.disconnect(disc) }); err != nil || sent == nil {
		return
	}
	bound := min(c.s.WriteTimeout, disconnectTimeout)
	var ended <-chan struct{}
	if ctx.Err() == nil {
		ended = ctx.Done()
	} else {
		bound = min(bound, closeWriteWait)
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-sent:
	case <-t.C:
	case <-ended:
		// The caller stopped waiting: DISCONNECT gets the short bound.
		t.Reset(closeWriteWait)
		select {
		case <-sent:
		case <-t.C:
		}
	}
}

// stop ends the client's goroutines: it cancels the client's context, which
// closes the connection, joins the session goroutine, the connection loop
// and the writers, then waits for running handlers and hooks within
// CloseGrace. It returns how many messages were abandoned.
func (c *Client) stop(cause error) int {
	c.delivery.stop()
	c.cancel(cause)
	c.closeInbox()
	c.wg.Wait()
	c.delivery.wait(c.s.CloseGrace)
	c.hooks.stopAndWait(c.s.CloseGrace)
	return c.sess.abandoned
}

// giveUp stops the client from within the connection loop, which cannot
// join itself: the join runs on a goroutine of its own that ends with the
// client.
func (c *Client) giveUp(err error) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.s.log.Error("client stopped", "err", err)
	go func() {
		c.stop(err)
		c.finish(err)
	}()
}

// finish records why the client stopped and closes Done.
func (c *Client) finish(err error) {
	c.doneErr = err
	close(c.done)
}

var errDisconnected = errors.New("client: disconnected")
