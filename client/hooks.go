// hooks.go holds the runner of user hooks (OnConnect, OnConnectionLost,
// OnReconnecting, OnError): one goroutine, started when a call is queued
// and gone when the queue is empty, so the client's own goroutines never
// wait for user code.
package client

import (
	"sync"
	"time"
)

// hooksQueue bounds the hook calls waiting to run; past it calls are
// dropped, counted in Stats.HooksDropped and logged.
const hooksQueue = 1024

type hookRunner struct {
	c       *Client
	mu      sync.Mutex
	queue   []func()
	running bool
	stopped bool
	wg      sync.WaitGroup
}

func (h *hookRunner) init(c *Client) { h.c = c }

// call queues fn. It never blocks.
func (h *hookRunner) call(fn func()) {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	if len(h.queue) >= hooksQueue {
		h.mu.Unlock()
		h.c.stats.hooksDropped.Add(1)
		h.c.s.log.Error("hook dropped: hooks are not keeping up", "queued", hooksQueue)
		return
	}
	h.queue = append(h.queue, fn)
	start := !h.running
	h.running = true
	if start {
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if start {
		go h.run()
	}
}

// run calls the queued hooks in order until none is left.
func (h *hookRunner) run() {
	defer h.wg.Done()
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		fn := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.mu.Unlock()
		fn()
	}
}

// stopAndWait takes no more calls and waits at most grace for those queued
// (a give-up's OnConnectionLost among them) to run.
func (h *hookRunner) stopAndWait(grace time.Duration) {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	waitGroupWithin(&h.wg, grace)
}
