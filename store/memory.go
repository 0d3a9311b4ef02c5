package store

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/feedmq/feedmq/packets"
)

// Memory is a volatile Store. Its state outlives connections but not the
// process. It keeps every packet encoded, as a File does, so that what Load
// returns never shares memory with what Put was given or with an earlier
// Load.
type Memory struct {
	mu      sync.Mutex
	records map[Key][]byte // never modified in place, only replaced
	closed  bool
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{records: make(map[Key][]byte)}
}

// Put implements Store.
func (m *Memory) Put(k Key, p packets.Packet) error {
	rec, err := appendRecord(nil, k, p) // outside the lock: it copies the payload
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err != nil {
		return err
	}
	m.records[k] = rec
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.records, k)
	return nil
}

// Load implements Store.
func (m *Memory) Load() ([]Entry, error) {
	type keyed struct {
		k   Key
		rec []byte
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	recs := make([]keyed, 0, len(m.records))
	for k, rec := range m.records {
		recs = append(recs, keyed{k, rec})
	}
	m.mu.Unlock()

	slices.SortFunc(recs, func(a, b keyed) int { return a.k.compare(b.k) })
	entries := make([]Entry, len(recs))
	for i, r := range recs {
		// Decode from a private copy: the packet's slices alias it.
		p, err := decodeRecord(r.k, bytes.Clone(r.rec))
		if err != nil {
			return nil, fmt.Errorf("store: load %v: %w", r.k, err)
		}
		entries[i] = Entry{Key: r.k, Packet: p}
	}
	return entries, nil
}

// Reset implements Store.
func (m *Memory) Reset() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	clear(m.records)
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	m.records = nil
	return nil
}
