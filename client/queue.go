// queue.go holds msgQueue, the queue in front of one subscription's handler
// or pull reader.
package client

import (
	"sync"
	"sync/atomic"
)

// msgQueue holds a subscription's messages in arrival order. It is not
// bounded itself: the shared budget (delivery) bounds all queues together.
// When a message arrives for a handler and no goroutine runs it, push
// starts one; the goroutine exits when the queue is empty.
type msgQueue struct {
	d       *delivery
	handler atomic.Pointer[func(*Message)] // nil: pull mode

	mu      sync.Mutex
	items   []*Message
	head    int
	closed  bool          // unsubscribed: takes no more messages
	running bool          // a handler goroutine owns the queue
	ready   chan struct{} // capacity 1: pushed (pull mode)
	run     func()        // the handler goroutine's body, made once: starting it allocates nothing
}

func newMsgQueue(d *delivery, handler *func(*Message)) *msgQueue {
	q := &msgQueue{d: d, ready: make(chan struct{}, 1)}
	q.run = func() { d.run(q) }
	q.handler.Store(handler)
	return q
}

func (q *msgQueue) lock()   { q.mu.Lock() }
func (q *msgQueue) unlock() { q.mu.Unlock() }

// push adds m unless the queue is closed, and starts the handler goroutine
// when the subscription has a handler and none runs.
func (q *msgQueue) push(m *Message) bool {
	q.lock()
	if q.closed {
		q.unlock()
		return false
	}
	q.items = append(q.items, m)
	start := q.startLocked()
	q.unlock()
	if start {
		q.d.start(q)
	} else if q.handler.Load() == nil {
		signal(q.ready)
		signal(q.d.pull)
	}
	return true
}

// startLocked reports whether the caller must start a handler goroutine,
// and marks it running.
func (q *msgQueue) startLocked() bool {
	if q.running || q.handler.Load() == nil || q.d.stopped.Load() || q.head == len(q.items) {
		return false
	}
	q.running = true
	return true
}

// kick starts the handler goroutine for messages that waited for a handler
// (Feed.OnMessage after messages arrived).
func (q *msgQueue) kick() {
	q.lock()
	start := q.startLocked()
	q.unlock()
	if start {
		q.d.start(q)
	}
}

// pop takes the oldest message without waiting.
func (q *msgQueue) pop() (*Message, bool) {
	q.lock()
	defer q.unlock()
	return q.popLocked()
}

func (q *msgQueue) popLocked() (*Message, bool) {
	if q.head == len(q.items) {
		return nil, false
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		// Empty: reuse the backing array from the start, or let a large
		// one go.
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > 1024 {
			q.items = nil
		}
	}
	return m, true
}

// next takes the oldest message for the handler goroutine; when there is
// none, the goroutine gives up the queue and must exit.
func (q *msgQueue) next() (*Message, bool) {
	q.lock()
	defer q.unlock()
	m, ok := q.popLocked()
	if !ok {
		q.running = false
	}
	return m, ok
}

// idle gives up the queue without taking a message (the client stopped).
func (q *msgQueue) idle() {
	q.lock()
	q.running = false
	q.unlock()
}

// close stops the queue taking messages; those queued are still delivered.
func (q *msgQueue) close() {
	q.lock()
	q.closed = true
	q.unlock()
	signal(q.ready)
}
