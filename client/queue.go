package client

import (
	"errors"
	"sync"
)

// msgQueue is the bounded queue in front of one handler or pull reader. The
// session pushes without ever blocking; a full queue refuses the message.
type msgQueue struct {
	mu     sync.Mutex
	items  []*Message
	head   int
	max    int
	closed bool
	ready  chan struct{}   // capacity 1: something was pushed or the queue closed
	pull   chan<- struct{} // the client's NextMessage wake-up, capacity 1
}

var errQueueClosed = errors.New("client: subscription removed")

func (c *Client) newMsgQueue() *msgQueue {
	return &msgQueue{max: c.s.HandlerQueue, ready: make(chan struct{}, 1), pull: c.pull}
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push adds m unless the queue is full or closed.
func (q *msgQueue) push(m *Message) bool {
	q.mu.Lock()
	ok := !q.closed && len(q.items)-q.head < q.max
	if ok {
		q.items = append(q.items, m)
	}
	q.mu.Unlock()
	if ok {
		signal(q.ready)
		signal(q.pull)
	}
	return ok
}

// pop takes the oldest message without waiting.
func (q *msgQueue) pop() (*Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil, false
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		// Empty: reuse the backing array from the start.
		q.items, q.head = q.items[:0], 0
	}
	return m, true
}

// next waits for the oldest message. It fails once stop is closed, or once
// the queue is closed and empty.
func (q *msgQueue) next(stop <-chan struct{}) (*Message, error) {
	for {
		if m, ok := q.pop(); ok {
			return m, nil
		}
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, errQueueClosed
		}
		select {
		case <-q.ready:
		case <-stop:
			return nil, errQueueClosed
		}
	}
}

// close stops the queue taking messages; those queued are still delivered.
func (q *msgQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.ready)
}
