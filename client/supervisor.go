package client

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// supervise owns the connection: it runs it, and when it ends reconnects
// with backoff until the client stops or gives up.
func (c *Client) supervise(cn *conn) {
	defer c.wg.Done()
	b := c.newBackoff()
	attempt := 0
	for {
		if cn != nil {
			attempt = 0
			b.Reset()
			lost := c.serve(cn)
			// A connection ended by Disconnect or Close is not lost.
			if c.closing.Load() || c.ctx.Err() != nil {
				return
			}
			c.s.log.Warn("connection lost", "broker", cn.broker, "err", lost)
			if fn := c.s.OnConnectionLost; fn != nil {
				c.hook(func() { fn(lost) })
			}
			if c.s.Reconnect.Disabled {
				c.giveUp(lost)
				return
			}
		}
		attempt++
		delay := b.NextBackOff()
		c.hookReconnecting(attempt, delay)
		if c.sleep(c.ctx, delay) != nil {
			return
		}
		var err error
		cn, err = c.connectAny(c.ctx)
		if err == nil {
			if c.register(c.ctx, cn) != nil {
				return // the client is stopping
			}
			continue
		}
		var refused *ConnectError
		if errors.As(err, &refused) && refused.Permanent() && !c.s.RetryOnAuthFailure {
			c.giveUp(err)
			return
		}
	}
}

// register hands a new connection to the session and waits until the
// session has taken it: resends, resubscriptions and the queue are on their
// way. The reader starts only after this, so nothing arrives before.
func (c *Client) register(ctx context.Context, cn *conn) error {
	cn.startWriter()
	if err := c.call(ctx, func(s *session) { s.onConnected(cn) }); err != nil {
		cn.fail(err)
		cn.wg.Wait()
		// The session may have taken cn just before ctx ended.
		_ = c.post(context.Background(), func(s *session) { s.onConnectionLost(cn) })
		return err
	}
	c.stats.connects.Add(1)
	c.stats.connected.Store(true)
	if fn := c.s.OnConnect; fn != nil {
		ev := ConnectedEvent{Broker: cn.broker, SessionPresent: cn.sessionPresent}
		c.hook(func() { fn(ev) })
	}
	return nil
}

// serve runs a registered connection until it ends, and returns why.
func (c *Client) serve(cn *conn) error {
	stop := context.AfterFunc(c.ctx, func() { cn.fail(ErrClosed) })
	cn.run()
	stop()
	c.stats.connected.Store(false)
	// The session may already have stopped; then there is nothing to tell.
	_ = c.post(context.Background(), func(s *session) { s.onConnectionLost(cn) })
	return cn.err
}

// giveUp stops the client from within: the supervisor cannot wait for
// itself, so the join runs on a goroutine of its own that ends with the
// client.
func (c *Client) giveUp(err error) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.s.log.Error("client stopped", "err", err)
	go func() {
		c.cancel(err)
		c.wg.Wait()
		c.stopped.Store(true)
		c.userGoros.waitAll()
		c.afterStop()
		c.finish(err)
	}()
}

func (c *Client) hookReconnecting(attempt int, delay time.Duration) {
	c.stats.reconnects.Add(1)
	if fn := c.s.OnReconnecting; fn != nil && c.hooks != nil {
		c.hook(func() { fn(attempt, delay) })
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
