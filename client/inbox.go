// inbox.go holds the session goroutine's work queue: producers append, the
// session drains everything queued each time it wakes.
package client

import (
	"context"
	"sync"
	"time"

	"github.com/feedmq/feedmq/packets"
)

// opKind names the hot operations, which travel as values; everything else
// is a function run on the session goroutine.
type opKind uint8

const (
	opFunc    opKind = iota // run fn
	opPublish               // accept m
	opPuback                // PUBACK id on connection epoch
	opPubrec
	opPubcomp
)

// op is one unit of work for the session goroutine.
type op struct {
	kind  opKind
	id    uint16
	code  packets.ReasonCode // of an ack, at 5.0; failures come as opFunc with their reason string
	epoch uint64
	m     *outMsg
	fn    func(*session)
}

// inbox is the session's queue. Posting appends under a lock and wakes the
// session only when the queue was empty, so a burst costs one wake-up and
// one lock per message instead of a channel operation each.
//
// The session goroutine runs only while there is work: the first post to
// find it parked starts it, and it parks again once nothing came for
// sessionLinger, so an idle client does not keep it.
type inbox struct {
	mu      sync.Mutex
	ops     []op
	spare   []op // the session's drained batch, reused
	closed  bool // the client is stopping: the last session goroutine runs
	running bool // a session goroutine is running
	wake    chan struct{}
}

// sessionLinger is how long the session goroutine waits for work before it
// parks.
const sessionLinger = time.Second

func (ib *inbox) init() { ib.wake = make(chan struct{}, 1) }

// post queues o for the session goroutine. It reports false when the
// session has stopped; o then never runs.
func (c *Client) post(o op) bool {
	ib := &c.inbox
	ib.mu.Lock()
	if ib.closed {
		ib.mu.Unlock()
		return false
	}
	ib.ops = append(ib.ops, o)
	first := len(ib.ops) == 1
	start := c.claimSession()
	ib.mu.Unlock()
	if first {
		signal(ib.wake)
	}
	if start {
		go c.runSession()
	}
	return true
}

// claimSession reports whether the caller must start the session
// goroutine, and marks it running. The count is taken under the inbox's
// lock, so stop, which closes the inbox under it, never waits without it.
func (c *Client) claimSession() bool {
	if c.inbox.running {
		return false
	}
	c.inbox.running = true
	c.wg.Add(1)
	return true
}

// closeInbox takes no more work and makes sure a session goroutine runs to
// end what is open. The client's context has been cancelled.
func (c *Client) closeInbox() {
	c.inbox.mu.Lock()
	c.inbox.closed = true
	start := c.claimSession()
	c.inbox.mu.Unlock()
	if start {
		go c.runSession()
	}
}

// park lets the session goroutine exit when no work came.
func (ib *inbox) park() bool {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if len(ib.ops) > 0 || ib.closed {
		return false
	}
	ib.running = false
	return true
}

// take returns everything queued, leaving an empty queue. closing marks the
// inbox closed in the same step, so nothing posted later is lost unseen.
func (ib *inbox) take(closing bool) []op {
	ib.mu.Lock()
	batch := ib.ops
	ib.ops = ib.spare[:0]
	ib.spare = nil
	ib.closed = ib.closed || closing
	ib.mu.Unlock()
	return batch
}

// recycle gives a handled batch back for reuse.
func (ib *inbox) recycle(batch []op) {
	clear(batch)
	ib.mu.Lock()
	if ib.spare == nil {
		ib.spare = batch[:0]
	}
	ib.mu.Unlock()
}

// call runs fn on the session goroutine and waits until it has run. It
// fails when the client stopped first or ctx ended before fn was queued.
func (c *Client) call(ctx context.Context, fn func(*session)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ran := make(chan struct{})
	if !c.post(op{fn: func(s *session) { fn(s); close(ran) }}) {
		return c.stoppedErr()
	}
	select {
	case <-ran:
		return nil
	case <-c.ctx.Done():
		// The session runs what was queued before it stopped.
		<-c.sessionDone()
		select {
		case <-ran:
			return nil
		default:
			return c.stoppedErr()
		}
	}
}

// runSession is the session goroutine: it owns the session and handles its
// work in batches until no work came for sessionLinger or the client
// stops; then it ends every open flow.
func (c *Client) runSession() {
	defer c.wg.Done()
	s := c.sess
	linger := time.NewTimer(sessionLinger)
	defer linger.Stop()
	for {
		select {
		case <-c.inbox.wake:
			batch := c.inbox.take(false)
			s.handleBatch(batch)
			c.inbox.recycle(batch)
			linger.Reset(sessionLinger)
		case <-linger.C:
			if c.inbox.park() {
				return
			}
			signal(c.inbox.wake) // work came as the timer fired
			linger.Reset(sessionLinger)
		case <-c.ctx.Done():
			s.conn = nil
			// Work posted before the inbox closed still runs, so that no
			// caller waits for an answer that never comes.
			s.handleBatch(c.inbox.take(true))
			s.abandon()
			close(s.exited)
			return
		}
	}
}

// sessionDone is closed when the session goroutine has exited.
func (c *Client) sessionDone() <-chan struct{} { return c.sess.exited }

func (s *session) handleBatch(batch []op) {
	s.lone = len(batch) == 1
	for i := range batch {
		o := &batch[i]
		switch o.kind {
		case opFunc:
			o.fn(s)
		case opPublish:
			s.accept(o.m)
		case opPuback:
			s.onPuback(o.epoch, o.id, o.code)
		case opPubrec:
			s.onPubrec(o.epoch, o.id, o.code)
		case opPubcomp:
			s.onPubcomp(o.epoch, o.id)
		}
	}
	s.pump()
}
