package client

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// userGoroutines tracks the goroutines that run user code: delivery
// goroutines and the hooks goroutine. Disconnect joins them, except the one
// it is called from: a handler that disconnects must not wait for itself.
// Go has no goroutine-local storage, so goroutines are told apart by the id
// the runtime prints in stack traces; it is read once per goroutine start
// and once per Disconnect, never on a message path.
type userGoroutines struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	running map[uint64]bool // goroutine id -> still counted in wg
}

// spawn starts fn on a tracked goroutine. The count is taken before the
// goroutine starts, so a concurrent wait never misses it.
func (u *userGoroutines) spawn(fn func()) {
	u.wg.Add(1)
	go func() {
		id := goid()
		u.mu.Lock()
		if u.running == nil {
			u.running = map[uint64]bool{}
		}
		u.running[id] = true
		u.mu.Unlock()
		defer func() {
			u.mu.Lock()
			counted := u.running[id]
			delete(u.running, id)
			u.mu.Unlock()
			if counted {
				u.wg.Done()
			}
		}()
		fn()
	}()
}

// waitAll waits for every tracked goroutine but the caller's own.
func (u *userGoroutines) waitAll() {
	id := goid()
	u.mu.Lock()
	if u.running[id] {
		u.running[id] = false
		u.wg.Done()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// goid returns the current goroutine's id, parsed from "goroutine 42 [".
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
