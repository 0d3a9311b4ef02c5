package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedmq/feedmq/store"
)

// Client is an asynchronous MQTT client. Its methods are safe for concurrent
// use, including from handlers and hooks.
//
// Goroutines and their owners:
//   - the session goroutine (started by the first call that needs it) owns
//     all session state: queued and in-flight messages, packet identifiers,
//     inbound QoS 2 state, subscriptions; every change is a function run on
//     it, so no lock is held across I/O;
//   - the supervisor (started by Connect) dials, reconnects with backoff,
//     and owns each connection's reader and writer goroutines;
//   - one delivery goroutine per subscription runs its handler;
//   - the hooks goroutine runs OnConnect, OnConnectionLost and
//     OnReconnecting.
//
// Close and Disconnect cancel the client's context and return after every
// one of them has exited.
type Client struct {
	// Immutable after New.
	s     *settings
	store store.Store

	// Lifecycle, set up once by start.
	startOnce sync.Once
	startErr  error
	ctx       context.Context
	cancel    context.CancelCauseFunc
	ops       chan func(*session) // work for the session goroutine
	slots     chan struct{}       // one token per pending message (MaxPending)
	hooks     chan func()         // calls of user hooks, in order
	pull      chan struct{}       // wakes NextMessage; capacity 1
	wg        sync.WaitGroup      // session and supervisor
	userGoros userGoroutines      // delivery and hooks goroutines, see Disconnect

	connectOnce atomic.Bool
	closing     atomic.Bool
	stopped     atomic.Bool   // the session goroutine has exited; see afterStop
	opsMu       sync.Mutex    // serialises afterStop
	done        chan struct{} // closed when the client has stopped
	doneErr     error         // why, set before done is closed

	stats stats
	sess  *session // only touched by the session goroutine
}

// New validates cfg and returns a client. It does no I/O and starts no
// goroutine; call Connect to go online.
func New(cfg Config) (*Client, error) {
	s, err := cfg.settle()
	if err != nil {
		return nil, err
	}
	c := &Client{s: s, store: cfg.Store, done: make(chan struct{}), pull: make(chan struct{}, 1)}
	if c.store == nil {
		c.store = store.NewMemory()
	}
	return c, nil
}

// start loads the store and starts the session and hooks goroutines, once.
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
		c.ops = make(chan func(*session), 256)
		c.slots = make(chan struct{}, c.s.MaxPending)
		c.hooks = make(chan func(), hooksQueue)
		// Messages recovered from the store hold slots too, as far as there
		// are slots.
		for _, m := range sess.recovered() {
			select {
			case c.slots <- struct{}{}:
				m.slotted = true
			default:
			}
		}
		c.wg.Add(1)
		go c.runSession()
		c.userGoros.spawn(c.runHooks)
	})
	return c.startErr
}

// Connect connects to the first broker that accepts the connection and
// starts automatic reconnection. It returns when CONNACK accepted the
// connection, when every broker failed (with Config.ConnectRetry: when ctx
// ends), or with a *ConnectError when a broker refused.
func (c *Client) Connect(ctx context.Context) error {
	if err := c.start(); err != nil {
		return err
	}
	if !c.connectOnce.CompareAndSwap(false, true) {
		return errors.New("client: Connect called twice")
	}
	first, err := c.connectFirst(ctx)
	if err != nil {
		c.connectOnce.Store(false)
		return err
	}
	// The session knows the connection before Connect returns, so a
	// Publish right after it goes out at once.
	if err := c.register(ctx, first); err != nil {
		c.connectOnce.Store(false)
		return err
	}
	c.wg.Add(1)
	go c.supervise(first)
	return nil
}

// post runs fn on the session goroutine. It fails only when the client has
// stopped.
func (c *Client) post(ctx context.Context, fn func(*session)) error {
	select {
	case c.ops <- fn:
		if c.stopped.Load() {
			// Sent just as the client stopped: nobody else will run it.
			c.afterStop()
		}
		return nil
	case <-c.ctx.Done():
		return c.stoppedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call runs fn on the session goroutine and waits until it has run.
func (c *Client) call(ctx context.Context, fn func(*session)) error {
	ran := make(chan struct{})
	if err := c.post(ctx, func(s *session) { fn(s); close(ran) }); err != nil {
		return err
	}
	select {
	case <-ran:
		return nil
	case <-c.ctx.Done():
		// The session may have run fn just before stopping.
		select {
		case <-ran:
			return nil
		default:
			return c.stoppedErr()
		}
	}
}

// stoppedErr is the error for calls after the client stopped.
func (c *Client) stoppedErr() error {
	if cause := context.Cause(c.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrClosed, cause)
	}
	return ErrClosed
}

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

// hook queues a call of user code on the hooks goroutine. It never blocks:
// the session and the supervisor call it, and must not wait for user code.
// When hooks fall hopelessly behind (hooksQueue calls), the call is dropped
// and logged.
func (c *Client) hook(fn func()) {
	select {
	case c.hooks <- fn:
	default:
		c.stats.hooksDropped.Add(1)
		c.s.log.Error("hook dropped: hooks are not keeping up", "queued", cap(c.hooks))
	}
}

const hooksQueue = 1024

func (c *Client) runHooks() {
	for {
		select {
		case fn := <-c.hooks:
			fn()
		case <-c.ctx.Done():
			return
		}
	}
}

// reportError hands an asynchronous problem to Config.OnError, or logs it.
func (c *Client) reportError(err error) {
	if c.s.OnError == nil {
		c.s.log.Warn("feedmq client", "err", err)
		return
	}
	c.hook(func() { c.s.OnError(err) })
}

// Close stops the client at once: it sends DISCONNECT if connected without
// waiting for messages in flight, and returns after every goroutine the
// client started has exited. Messages not yet acknowledged end with
// ErrAbandoned (a file store keeps them for the next client).
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
// is then closed and nothing more is sent on it), stops every goroutine the
// client started and returns when they have exited. It is safe to call from
// a handler or a hook. When ctx ended first the error wraps ctx.Err() and
// says how many messages were abandoned.
func (c *Client) Disconnect(ctx context.Context) error {
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
	idle := make(chan struct{})
	if err := c.post(ctx, func(s *session) { s.notifyIdle(idle) }); err == nil {
		select {
		case <-idle:
		case <-ctx.Done():
			waitErr = ctx.Err()
		case <-c.ctx.Done():
		}
	}
	// Send DISCONNECT through the writer, which closes the connection after
	// it. This is tried even when ctx has ended (Close), within a bound of
	// its own: without DISCONNECT the broker would publish the will.
	sent := make(chan struct{})
	if err := c.post(context.Background(), func(s *session) { s.disconnect(sent) }); err == nil {
		t := time.NewTimer(min(c.s.WriteTimeout, disconnectTimeout))
		select {
		case <-sent:
		case <-t.C:
		case <-c.ctx.Done():
		}
		t.Stop()
	}
	c.cancel(errDisconnected)
	c.wg.Wait()
	c.stopped.Store(true)
	c.userGoros.waitAll()
	abandoned := c.afterStop()
	c.finish(nil)
	if waitErr != nil {
		return fmt.Errorf("client: disconnected with %d message(s) not delivered: %w", abandoned, waitErr)
	}
	return nil
}

// afterStop runs the work posted after the session goroutine exited, then
// ends every flow still open, so that no Delivery or request waits forever.
// It returns how many messages were abandoned.
func (c *Client) afterStop() int {
	c.opsMu.Lock()
	defer c.opsMu.Unlock()
	for {
		select {
		case fn := <-c.ops:
			fn(c.sess)
			continue
		default:
		}
		return c.sess.abandon()
	}
}

// finish records why the client stopped and closes Done.
func (c *Client) finish(err error) {
	c.doneErr = err
	close(c.done)
}

var errDisconnected = errors.New("client: disconnected")

// disconnectTimeout bounds the wait for DISCONNECT to be written.
const disconnectTimeout = 5 * time.Second
