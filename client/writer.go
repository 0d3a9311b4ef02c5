// writer.go holds the write side of a connection: the writer goroutine,
// started by the first producer that finds none, which takes the whole
// pending batch at a time and exits once the connection is quiet.
package client

import (
	"fmt"
	"runtime"
	"time"
)

// claimWriter reports whether the caller must start the writer, and marks
// it running. A writer already running is woken when pending was empty,
// since it waits only when it found pending empty; otherwise it takes what
// was added with the rest, and a burst costs no channel operation per
// packet. cn.mu is held.
func (cn *conn) claimWriter(wasEmpty bool) bool {
	if cn.writing {
		if wasEmpty {
			signal(cn.wake)
		}
		return false
	}
	cn.writing = true
	cn.writers.Add(1)
	return true
}

// writerLinger is how long the writer waits for more to write before it
// exits.
const writerLinger = time.Second

// yieldBelow is the batch size under which the writer yields once before
// writing, to take more in the same write.
const yieldBelow = 16 << 10

// writeLoop is the connection's only writer while it runs. It takes the
// whole pending batch and writes it in one call, so under load many
// packets leave in one write; it exits once nothing came for writerLinger.
func (cn *conn) writeLoop() {
	defer cn.writers.Done()
	var buf []byte
	var waiters []*outMsg
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	yielded := false
	for {
		cn.mu.Lock()
		if cn.ended {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		if len(cn.pending) == 0 {
			cn.mu.Unlock()
			if linger == nil {
				linger = time.NewTimer(writerLinger)
			} else {
				linger.Reset(writerLinger)
			}
			if !cn.waitForWork(linger) {
				return
			}
			continue
		}
		if !yielded && len(cn.pending) < yieldBelow {
			// Let the goroutines that are ready to run add theirs
			// first: producers woken by the acks just read queue
			// their next packets, and one write takes them all.
			cn.mu.Unlock()
			runtime.Gosched()
			yielded = true
			continue
		}
		yielded = false
		// The two buffers swap and keep their size while traffic lasts:
		// shrinking one here would make the next burst grow it again,
		// copying as it goes. They are let go when the writer exits.
		buf, cn.pending = cn.pending, buf[:0]
		waiters, cn.waiters = cn.waiters, waiters[:0]
		sentDisc := cn.sentDisc
		last, cause := cn.final, cn.cause
		cn.mu.Unlock()
		err := cn.write(buf)
		for i, m := range waiters {
			cn.c.written(m, err)
			waiters[i] = nil
		}
		if err != nil {
			cn.fail(fmt.Errorf("client: writing to the broker: %w", err))
			return
		}
		if last {
			// Nothing may follow DISCONNECT (MQTT-3.14.4-2).
			if cause == nil {
				cause = errDisconnected
			}
			cn.fail(cause)
			close(sentDisc)
			cn.mu.Lock()
			cn.sentDisc = nil
			cn.mu.Unlock()
			return
		}
		buf = buf[:0]
	}
}

// waitForWork waits until something is queued, and reports false when the
// writer should exit instead: the connection ended, or nothing came before
// linger fired.
func (cn *conn) waitForWork(linger *time.Timer) bool {
	select {
	case <-cn.wake:
		return true
	case <-cn.done:
	case <-linger.C:
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.pending) > 0 && !cn.ended {
		return true
	}
	cn.writing = false
	cn.pending = shrink(cn.pending)
	return false
}

// write writes one batch within the write timeout.
func (cn *conn) write(b []byte) error {
	cn.nc.SetWriteDeadline(time.Now().Add(cn.c.s.WriteTimeout))
	_, err := cn.nc.Write(b)
	cn.c.stats.bytesOut.Add(int64(len(b)))
	if err == nil && cn.ka != nil {
		cn.ka.sent()
	}
	return err
}

// shrink lets a buffer that grew for a burst go, so an idle connection
// holds little memory.
func shrink(b []byte) []byte {
	if cap(b) > 64<<10 {
		return nil
	}
	return b[:0]
}

// endWaiters fails the messages still waiting on a connection that ended,
// and lets go of its buffers. The connection loop calls it once the writer
// has exited.
func (cn *conn) endWaiters() {
	cn.mu.Lock()
	waiters := cn.waiters
	cn.waiters, cn.pending = nil, nil
	sentDisc := cn.sentDisc
	cn.sentDisc = nil
	cn.mu.Unlock()
	for _, m := range waiters {
		cn.c.written(m, cn.err)
	}
	if sentDisc != nil {
		close(sentDisc)
	}
}
