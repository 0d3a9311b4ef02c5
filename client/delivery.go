// delivery.go holds delivery to the application: each subscription's queue
// and the goroutine that runs its handler, the budget that bounds what
// waits in all queues together (and stops the reader when it is spent), and
// pull reads.
package client

import (
	"context"
	"fmt"
	"github.com/feedmq/feedmq/packets"
	"sync"
	"sync/atomic"
	"time"
)

// delivery owns the handler goroutines and the shared budget.
//
// A subscription's goroutine is started when a message arrives for an idle
// handler and exits when its queue is empty, so an idle client runs none.
// Messages received and not yet handled count against one budget shared by
// every subscription (Config.HandlerQueue messages, HandlerQueueBytes
// bytes). When it is spent the reader stops reading, so TCP flow control
// pushes back to the broker, until handlers catch up; with SlowConsumer set
// to DropNew the message is dropped and reported instead.
type delivery struct {
	c        *Client
	maxMsgs  int64
	maxBytes int64

	mu    sync.Mutex // guards msgs, bytes
	msgs  int64
	bytes int64
	freed chan struct{} // capacity 1: the budget went back under its bound

	stopped atomic.Bool    // Close or Disconnect: no handler starts any more
	wg      sync.WaitGroup // handler goroutines
	pull    chan struct{}  // capacity 1: a pull-mode queue got a message
}

func (d *delivery) init(c *Client) {
	d.c = c
	d.maxMsgs = int64(c.s.HandlerQueue)
	d.maxBytes = int64(c.s.HandlerQueueBytes)
	d.freed = make(chan struct{}, 1)
	d.pull = make(chan struct{}, 1)
}

// deliver queues m for each subscription, then, when the budget is spent,
// keeps the reader from reading until it is not (or drops m, by policy).
func (d *delivery) deliver(cn *conn, m *Message, subs []*subscription) error {
	c := d.c
	if d.over() && c.s.SlowConsumer == DropNew {
		c.stats.dropped.Add(1)
		c.reportError(fmt.Errorf("%w: topic %q, QoS %d", ErrSlowConsumer, m.Topic, m.QoS))
		if cn.level == MQTT5 && m.QoS != AtMostOnce {
			// At 5.0 every PUBLISH is answered (MQTT5-4.5.0-2), and one
			// left unanswered would hold a place of the broker's send
			// quota for the rest of the connection: refused with Quota
			// exceeded, which the broker does not send again.
			m.refusal.Store(uint32(packets.ReasonQuotaExceeded))
			c.acks.arrived(m)
			c.acks.handled(m)
			return nil
		}
		c.in.dropped(m)
		// Not acknowledged: a persistent session's broker sends a QoS 1
		// or 2 message again on a later connection.
		return nil
	}
	d.reserve(len(m.Payload))
	m.setHandlers(len(subs))
	c.acks.arrived(m)
	for _, sub := range subs {
		if !sub.queue.push(m) {
			d.handled(m) // unsubscribed meanwhile
		}
	}
	if c.s.SlowConsumer == Backpressure && d.over() {
		d.waitBelow(cn)
	}
	return nil
}

// reserve counts a message against the budget.
func (d *delivery) reserve(size int) {
	d.mu.Lock()
	d.msgs++
	d.bytes += int64(size)
	d.mu.Unlock()
}

// inUse reports the budget in use.
func (d *delivery) inUse() (msgs, bytes int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return int(d.msgs), int(d.bytes)
}

// over reports whether the budget is spent. One message always fits, so a
// message larger than the byte budget still gets through.
func (d *delivery) over() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overLocked()
}

func (d *delivery) overLocked() bool {
	return d.msgs > 0 && (d.msgs >= d.maxMsgs || d.bytes >= d.maxBytes)
}

// waitBelow stops the reader until the budget has room, the connection
// ends or the client stops. Keepalive goes on meanwhile: PINGREQs are
// still sent, and a PINGRESP that waits unread is not counted as missing.
func (d *delivery) waitBelow(cn *conn) {
	d.c.stats.readPauses.Add(1)
	if cn.ka != nil {
		cn.ka.pause()
		defer cn.ka.resume()
	}
	for d.over() {
		select {
		case <-d.freed:
		case <-cn.done:
			return
		}
	}
}

// handled is called once per handler (or pull read) that has a message;
// after the last one the message leaves the budget and is acknowledged.
func (d *delivery) handled(m *Message) {
	if !m.handlerDone() {
		return
	}
	d.mu.Lock()
	wasOver := d.overLocked()
	d.msgs--
	d.bytes -= int64(len(m.Payload))
	d.mu.Unlock()
	if wasOver {
		signal(d.freed)
	}
	d.c.acks.handled(m)
}

// start runs a subscription's handler goroutine.
func (d *delivery) start(q *msgQueue) {
	d.wg.Add(1)
	go q.run()
}

// run hands the subscription's messages to its handler, in order, until the
// queue is empty or the client stops. A message left in the queue when the
// client stops is never handled nor acknowledged.
func (d *delivery) run(q *msgQueue) {
	defer d.wg.Done()
	for {
		if d.stopped.Load() {
			q.idle()
			return
		}
		m, ok := q.next()
		if !ok {
			return
		}
		if h := q.handler.Load(); h != nil {
			(*h)(m)
		}
		d.handled(m)
	}
}

// stop keeps handlers from starting; those running finish.
func (d *delivery) stop() { d.stopped.Store(true) }

// wait waits for the handler goroutines to exit, at most grace: a handler
// that runs longer (or the one Close was called from) is not waited for.
func (d *delivery) wait(grace time.Duration) { waitGroupWithin(&d.wg, grace) }

// waitGroupWithin waits for wg at most d.
func waitGroupWithin(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// NextMessage returns the next message of any pull-mode subscription (one
// subscribed with a nil handler), waiting until one arrives or ctx ends. It
// is the poll-style read of the Adafruit MQTT library's readSubscription.
// Messages of pull-mode subscriptions count against the shared budget until
// they are read: a pull subscription nobody reads stops the client's
// reading once the budget is spent.
func (c *Client) NextMessage(ctx context.Context) (*Message, error) {
	if err := c.start(); err != nil {
		return nil, err
	}
	for {
		for _, sub := range c.subs.Load().subs {
			if sub.queue.handler.Load() != nil {
				continue
			}
			if m, ok := sub.queue.pop(); ok {
				c.delivery.handled(m)
				return m, nil
			}
		}
		select {
		case <-c.delivery.pull:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, c.stoppedErr()
		}
	}
}
