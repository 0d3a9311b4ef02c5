//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockSupported says whether lockFile keeps other stores out.
const lockSupported = true

// lockFile takes an exclusive flock on f without waiting, and returns
// ErrLocked when another open file description holds it, in this process or
// another. The kernel releases it when f is closed or the process dies.
//
// A lock just released by Close can still be held for a moment by a child
// process that another goroutine forked and has not yet exec'd: the child
// shares the open file description until exec closes it. So ErrLocked is
// returned only after the lock stayed taken for lockPatience.
func lockFile(f *os.File) error {
	deadline := time.Now().Add(lockPatience)
	for {
		err := tryLock(f)
		if err != ErrLocked || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lockPatience is how long lockFile waits for a lock that may be held only
// by a forking child.
const lockPatience = 200 * time.Millisecond

func tryLock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	err = rc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lerr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if errors.Is(lerr, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return lerr
}
