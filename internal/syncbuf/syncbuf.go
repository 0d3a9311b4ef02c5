// Package syncbuf is a byte buffer that goroutines share: the output of a
// process that exec copies in while a test reads it, or a log that a
// client's goroutines write. Tests and test helpers use it; the library
// does not.
package syncbuf

import (
	"bytes"
	"fmt"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use. The zero value is
// empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Printf appends a formatted text and returns the length after it, an
// offset for From.
func (b *Buffer) Printf(format string, args ...any) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(&b.buf, format, args...)
	return b.buf.Len()
}

// String returns everything written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// From returns what was written from offset on.
func (b *Buffer) From(offset int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[min(offset, b.buf.Len()):])
}
