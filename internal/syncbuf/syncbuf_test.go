package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrites: writes from many goroutines all land, whole, and
// From and Printf agree on offsets.
func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %02d\n", i)
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "\n"); got != 50 {
		t.Fatalf("%d lines, want 50", got)
	}
	off := b.Printf("mark %d\n", 1)
	b.Write([]byte("after\n"))
	if got := b.From(off); got != "after\n" {
		t.Fatalf("From(%d) = %q", off, got)
	}
	if got := b.From(off + 1000); got != "" {
		t.Fatalf("From past the end = %q", got)
	}
}
