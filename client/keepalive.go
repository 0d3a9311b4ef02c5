// keepalive.go holds the keepalive of one connection: when to send PINGREQ
// and when a missing PINGRESP means the link is dead.
package client

import (
	"sync"
	"time"
)

// keepalive decides, on a timer of its own, when a connection needs a
// PINGREQ and when the broker's silence means the link is dead. It runs on
// no goroutine of its own and never inside the writer: a write blocked on a
// peer that stopped reading cannot delay it, and the failure it reports
// closes the connection, which unblocks that write (MQTT 3.1.1 §3.1.2.10).
type keepalive struct {
	interval time.Duration // MQTT-3.1.2-23; > 0
	timeout  time.Duration // Config.PingTimeout
	ping     func()        // queues a PINGREQ; never blocks
	dead     func()        // ends the connection

	mu         sync.Mutex // guards the fields below
	timer      *time.Timer
	lastSent   time.Time // last write that completed
	lastRecv   time.Time // last packet read
	pingSentAt time.Time // zero: no PINGREQ outstanding
	paused     bool      // the reader stopped reading (backpressure)
	stopped    bool
}

func newKeepalive(interval, timeout time.Duration, ping, dead func()) *keepalive {
	now := time.Now()
	return &keepalive{interval: interval, timeout: timeout, ping: ping, dead: dead, lastSent: now, lastRecv: now}
}

// start arms the timer.
func (k *keepalive) start() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.stopped {
		k.timer = time.AfterFunc(k.interval, k.tick)
	}
}

// stop disarms the timer for good.
func (k *keepalive) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	if k.timer != nil {
		k.timer.Stop()
	}
}

// sent records a completed write.
func (k *keepalive) sent() {
	k.mu.Lock()
	k.lastSent = time.Now()
	k.mu.Unlock()
}

// received records a packet read; a PINGRESP also ends the wait for one.
func (k *keepalive) received(pingresp bool) {
	k.mu.Lock()
	k.lastRecv = time.Now()
	if pingresp {
		k.pingSentAt = time.Time{}
	}
	k.mu.Unlock()
}

// pause and resume bracket the time the reader stops reading because
// handlers fell behind. A PINGRESP the broker sent meanwhile waits unread in
// the socket, so while paused a late PINGRESP is not missing; after resume
// the broker gets the whole ping timeout again.
func (k *keepalive) pause() {
	k.mu.Lock()
	k.paused = true
	k.mu.Unlock()
}

func (k *keepalive) resume() {
	k.mu.Lock()
	if !k.pingSentAt.IsZero() {
		k.pingSentAt = time.Now()
	}
	k.paused = false
	k.mu.Unlock()
}

// tick runs on the timer's goroutine: it sends PINGREQ once either direction
// has been quiet for the interval, so a half-open link is found even while
// the client only publishes, and declares the link dead when PINGRESP is
// overdue. While reading is paused, nothing read counts, a PINGRESP may be
// waiting unread, and PINGREQs go on whenever nothing was sent for the
// interval, so that the broker's keepalive is kept (MQTT-3.1.2-23).
func (k *keepalive) tick() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	ping, dead, next := k.due(time.Now())
	if !dead {
		k.timer.Reset(max(next, time.Millisecond))
	}
	k.mu.Unlock()
	switch {
	case dead:
		k.dead()
	case ping:
		k.ping()
	}
}

// due decides what this tick does, and when the next one is. k.mu is held.
func (k *keepalive) due(now time.Time) (ping, dead bool, next time.Duration) {
	sinceSent := now.Sub(k.lastSent)
	if k.paused {
		if sinceSent >= k.interval {
			k.pingSentAt = now
			return true, false, k.interval
		}
		return false, false, k.interval - sinceSent
	}
	if !k.pingSentAt.IsZero() {
		waited := now.Sub(k.pingSentAt)
		if waited >= k.timeout {
			return false, true, 0
		}
		return false, false, k.timeout - waited
	}
	quiet := max(sinceSent, now.Sub(k.lastRecv))
	if quiet >= k.interval {
		k.pingSentAt = now
		return true, false, min(k.timeout, k.interval)
	}
	return false, false, k.interval - quiet
}
