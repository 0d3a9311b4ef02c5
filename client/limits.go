// limits.go holds the bounds shared by the flows: the count of pending
// outbound messages (MaxPending) and the cache of topic names already
// validated.
package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// limiter counts pending outbound messages against Config.MaxPending. The
// fast path is one atomic operation; only callers who asked to wait for
// room ever block.
type limiter struct {
	max     int64
	n       atomic.Int64
	waiting atomic.Int32
	freed   chan struct{} // capacity 1: a place was freed while someone waited
}

var errStopped = errors.New("client: stopped")

func (l *limiter) init(max int) {
	l.max = int64(max)
	l.freed = make(chan struct{}, 1)
}

func (l *limiter) tryAcquire() bool {
	for {
		n := l.n.Load()
		if n >= l.max {
			return false
		}
		if l.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquire takes a place, waiting for one when wait is set until ctx ends or
// stop is closed.
func (l *limiter) acquire(ctx context.Context, wait bool, stop <-chan struct{}) error {
	if l.tryAcquire() {
		return nil
	}
	if !wait {
		return ErrQueueFull
	}
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	for {
		if l.tryAcquire() {
			// Pass the wake-up on: more places may be free.
			if l.n.Load() < l.max {
				signal(l.freed)
			}
			return nil
		}
		select {
		case <-l.freed:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
		case <-stop:
			return errStopped
		}
	}
}

func (l *limiter) release() {
	l.n.Add(-1)
	if l.waiting.Load() > 0 {
		signal(l.freed)
	}
}

// topicCache remembers topic names that passed validation, so a publisher
// that sends to a few topics validates each once. It is bounded: when full
// it starts over.
type topicCache struct {
	mu    sync.RWMutex
	names map[string]struct{}
}

const topicCacheSize = 1024

func (tc *topicCache) init() { tc.names = make(map[string]struct{}) }

func (tc *topicCache) known(topic string) bool {
	tc.mu.RLock()
	_, ok := tc.names[topic]
	tc.mu.RUnlock()
	return ok
}

func (tc *topicCache) add(topic string) {
	tc.mu.Lock()
	if len(tc.names) >= topicCacheSize {
		clear(tc.names)
	}
	tc.names[topic] = struct{}{}
	tc.mu.Unlock()
}
