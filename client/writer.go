// writer.go holds the write side of a connection: the writer goroutine,
// started by the first producer that finds none, which takes the whole
// pending batch at a time and exits once the connection is quiet; and
// writeInline, with which a producer that waits anyway writes its packet
// itself while no writer runs.
package client

import (
	"fmt"
	"net"
	"runtime"
	"slices"
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
	var batch [][]byte // the chunks taken, in order
	var iov net.Buffers
	var waiters []*outMsg
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	yielded, wrote := false, false
	for {
		cn.mu.Lock()
		// The last batch's chunks, written, under the lock taken anyway.
		batch = cn.recycle(batch)
		if wrote {
			cn.busy, wrote = false, false
		}
		if cn.ended {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		// While a writeInline is under way the writer waits: it wakes
		// the writer when it is done and something is left.
		if cn.busy || len(cn.pending) == 0 && len(cn.full) == 0 {
			cn.mu.Unlock()
			if linger == nil {
				linger = time.NewTimer(cn.linger)
			} else {
				linger.Reset(cn.linger)
			}
			if !cn.waitForWork(linger) {
				return
			}
			continue
		}
		if !yielded && len(cn.full) == 0 && len(cn.pending) < yieldBelow {
			// Let the goroutines that are ready to run add theirs
			// first: producers woken by the acks just read queue
			// their next packets, and one write takes them all.
			cn.mu.Unlock()
			runtime.Gosched()
			yielded = true
			continue
		}
		yielded = false
		cn.busy, wrote = true, true
		batch = append(append(batch, cn.full...), cn.pending)
		clear(cn.full)
		cn.full = cn.full[:0]
		// The chunks keep their size while traffic lasts: shrinking
		// one here would make the next burst grow it again, copying as
		// it goes. They are let go when the writer exits.
		cn.pending = cn.spareChunk()
		waiters, cn.waiters = cn.waiters, waiters[:0]
		sentDisc := cn.sentDisc
		last, cause := cn.final, cn.cause
		cn.mu.Unlock()
		err := cn.write(batch, &iov)
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
	}
}

// recycle keeps the chunks of a written batch for reuse, within
// maxSpareChunks, and empties batch. cn.mu is held.
func (cn *conn) recycle(batch [][]byte) [][]byte {
	for _, b := range batch {
		if len(cn.spare) < maxSpareChunks && cap(b) <= 2*batchChunk {
			cn.spare = append(cn.spare, b[:0])
		}
	}
	clear(batch)
	return batch[:0]
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
	if (len(cn.pending) > 0 || len(cn.full) > 0) && !cn.ended {
		return true
	}
	cn.writing = false
	cn.pending, cn.spare = shrink(cn.pending), nil
	if !cn.busy {
		cn.side = shrink(cn.side)
	}
	return false
}

// writeInline writes the one packet in pending on the producer's
// goroutine, as far as the socket takes it without waiting (see
// endAppend); what it does not take, or an error, is left to the writer
// goroutine, which writes it within the write timeout and reports what it
// finds. Meanwhile producers append to a spare buffer, and the writer
// waits. cn.mu is held on entry and released on return.
func (cn *conn) writeInline() {
	cn.busy = true
	cn.writers.Add(1) // the connection's end waits for this write too
	buf, waiters := cn.pending, cn.waiters
	cn.pending, cn.side = cn.side[:0], nil
	cn.waiters, cn.sideWait = cn.sideWait[:0], nil
	cn.mu.Unlock()

	if cn.inlineHook != nil {
		cn.inlineHook()
	}
	if cn.sock == nil {
		cn.sock = newSockWriter(cn.nc)
	}
	n := 0
	if cn.sock != nil {
		n, _ = cn.sock.writeNow(buf)
	}
	cn.c.stats.bytesOut.Add(int64(n))
	whole := n == len(buf)
	if whole {
		if cn.ka != nil {
			cn.ka.sent()
		}
		for i, m := range waiters {
			cn.c.written(m, nil)
			waiters[i] = nil
		}
		waiters = waiters[:0]
	}

	cn.mu.Lock()
	cn.busy = false
	start := false
	if whole {
		cn.sideWait = waiters
		if len(cn.pending) == 0 && len(cn.full) == 0 && cap(buf) <= maxSide {
			// Nothing came meanwhile: keep the buffer that fits this
			// traffic, and the spare it lent.
			cn.pending, buf = buf[:0], cn.pending
		}
		cn.side = keepSide(buf)
	} else {
		// The rest goes out first, before anything added meanwhile.
		cn.full = slices.Insert(cn.full, 0, buf[n:])
		cn.waiters = append(waiters, cn.waiters...)
	}
	if !cn.ended && (len(cn.pending) > 0 || len(cn.full) > 0) {
		// A writer that found the write under way waits for this.
		start = cn.claimWriter(true)
	}
	cn.mu.Unlock()
	cn.writers.Done()
	if start {
		go cn.writeLoop()
	}
}

// maxSide bounds the buffers writeInline keeps: no writer runs after an
// inline write to let a larger one go, and a quiet connection should not
// hold the buffer of the largest message it ever published.
const maxSide = 16 << 10

// keepSide keeps a buffer for writeInline's next use when it is small
// enough to hold on a quiet connection.
func keepSide(b []byte) []byte {
	if cap(b) > maxSide {
		return nil
	}
	return b[:0]
}

// write writes one batch, its chunks in order, within the write timeout:
// one chunk with Write, several with one writev (net.Buffers). iov is the
// writer's scratch for the latter, since writing consumes a net.Buffers.
func (cn *conn) write(batch [][]byte, iov *net.Buffers) error {
	cn.nc.SetWriteDeadline(time.Now().Add(cn.c.s.WriteTimeout))
	var n int64
	var err error
	if len(batch) == 1 {
		var k int
		k, err = cn.nc.Write(batch[0])
		n = int64(k)
	} else {
		*iov = append((*iov)[:0], batch...)
		bufs := *iov
		n, err = bufs.WriteTo(cn.nc)
		clear(*iov)
	}
	cn.c.stats.bytesOut.Add(n)
	if err == nil && cn.ka != nil {
		cn.ka.sent()
	}
	return err
}

// shrink lets a buffer that grew past 4 KiB for a burst go, so an idle
// connection holds little memory.
func shrink(b []byte) []byte {
	if cap(b) > 4<<10 {
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
	cn.waiters, cn.pending, cn.full, cn.spare = nil, nil, nil, nil
	cn.side, cn.sideWait = nil, nil
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
