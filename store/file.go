package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/feedmq/feedmq/packets"
)

// File names in a File's directory.
const (
	lockName      = "LOCK"     // held with an exclusive lock while a File is open
	entrySuffix   = ".mqtt"    // out-%016x.mqtt and in-%04x.mqtt: one record each
	tmpSuffix     = ".tmp"     // a record being written; renamed over its entry when complete
	corruptSuffix = ".corrupt" // a quarantined file, kept for inspection
)

// FileOptions configures OpenFile. The zero value is safe.
type FileOptions struct {
	// Logger receives an Error record for every file quarantined as
	// corrupt and a Warn record for every unfinished write removed. Nil
	// discards them.
	Logger *slog.Logger

	// NoSync skips every fsync. A killed process loses nothing by it, but
	// a machine that crashes or loses power may come back with entries
	// lost, or deleted entries back, which breaks QoS 1 and 2 guarantees.
	// It is unsafe outside tests and benchmarks.
	NoSync bool
}

// File is a Store that keeps one file per entry in a directory, so that
// in-flight messages survive the process. See the package documentation for
// the layout and for what survives a crash.
//
// Put and Delete write the directory at once and may run in parallel; Load,
// Reset and Close wait for them and run alone. Load reads the directory: no
// copy of the entries is kept in memory.
type File struct {
	// Immutable after OpenFile.
	dir    string
	log    *slog.Logger
	noSync bool

	// mu is held shared by Put and Delete, exclusively by Load, Reset and
	// Close. It guards the fields below.
	mu     sync.RWMutex
	closed bool
	lock   *os.File // the locked LOCK file
	dirf   *os.File // the directory, opened for fsync
}

// OpenFile opens the File store in dir, creating dir with mode 0700 when it
// does not exist. Entry files are created with mode 0600.
//
// A directory already open in a File, in this process or another, is refused
// with an error wrapping ErrLocked (on platforms without flock the check is
// not made). OpenFile removes unfinished writes left by a process that died
// and quarantines corrupt entries (see the package documentation); neither
// makes it fail.
func OpenFile(dir string, opts *FileOptions) (*File, error) {
	if opts == nil {
		opts = new(FileOptions)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: open %s: lock %s: %w", dir, lockName, err)
	}
	dirf, err := os.Open(dir)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	f := &File{dir: dir, log: log, noSync: opts.NoSync, lock: lock, dirf: dirf}
	if _, err := f.scan(true); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return f, nil
}

// Put implements Store. The record goes to a temporary file that is synced
// and then renamed over the entry's file, and the directory is synced, so a
// crash leaves the old entry or the new one, never a mix.
func (f *File) Put(k Key, p packets.Packet) error {
	rec, err := appendRecord(nil, k, p)
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	if err != nil {
		return err
	}
	name := fileName(k)
	if err := f.write(name, rec); err != nil {
		return fmt.Errorf("store: put %s: %w", name, err)
	}
	return nil
}

// write replaces the file name with content rec. The caller holds mu.
func (f *File) write(name string, rec []byte) error {
	tmp, err := os.CreateTemp(f.dir, name+".*"+tmpSuffix) // mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.Write(rec)
	if err == nil && !f.noSync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(f.dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return f.syncDir()
}

// Delete implements Store. It returns once the removal is durable.
func (f *File) Delete(k Key) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	name := fileName(k)
	if name == "" {
		return nil // no such key can have been stored
	}
	err := os.Remove(filepath.Join(f.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete %s: %w", name, err)
	}
	// A missing file is synced too: a concurrent Delete of the same key may
	// have removed it and not yet synced. A removal that is not synced can
	// be undone by a crash, and the entry come back: an outbound message is
	// then sent again though its flow completed (a QoS 2 PUBLISH whose
	// flow completed would be delivered twice), and an inbound PUBREC makes
	// the client take the next QoS 2 message that reuses the packet
	// identifier for a duplicate and drop it.
	if err := f.syncDir(); err != nil {
		return fmt.Errorf("store: delete %s: %w", name, err)
	}
	return nil
}

// Load implements Store. It reads every entry file. A file found corrupt is
// quarantined as OpenFile does and left out.
func (f *File) Load() ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	entries, err := f.scan(false)
	if err != nil {
		return nil, fmt.Errorf("store: load %s: %w", f.dir, err)
	}
	return entries, nil
}

// Reset implements Store. It removes every entry file; quarantined files are
// kept. Reset is not atomic: after a crash during Reset, the entries it had
// not removed yet are still there, so a clean session must call it again.
func (f *File) Reset() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	des, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("store: reset %s: %w", f.dir, err)
	}
	for _, de := range des {
		name := de.Name()
		if _, ok := parseName(name); !ok && !strings.HasSuffix(name, tmpSuffix) {
			continue
		}
		if err := os.Remove(filepath.Join(f.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: reset %s: %w", name, err)
		}
	}
	if err := f.syncDir(); err != nil {
		return fmt.Errorf("store: reset %s: %w", f.dir, err)
	}
	return nil
}

// Close implements Store. It releases the directory lock; files stay.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.closed = true
	err := f.dirf.Close()
	if lerr := f.lock.Close(); lerr != nil && err == nil { // closing releases the lock
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("store: close %s: %w", f.dir, err)
	}
	return nil
}

// scan reads every entry in the directory, in Load order. It quarantines
// corrupt files and, when atOpen, removes unfinished writes. The caller holds
// mu exclusively, so no write of this File is in progress.
func (f *File) scan(atOpen bool) ([]Entry, error) {
	des, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	changed := false
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(f.dir, name)
		switch {
		case name == lockName || strings.HasSuffix(name, corruptSuffix):
			continue
		case strings.HasSuffix(name, tmpSuffix):
			if !atOpen {
				continue
			}
			// Written by a process that died before it renamed the file:
			// the entry it was replacing is still in place.
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			f.log.Warn("store: removed an unfinished write", slog.String("file", path))
			changed = true
			continue
		case !de.Type().IsRegular():
			f.log.Warn("store: ignoring a file that is not a regular file", slog.String("file", path))
			continue
		}
		k, ok := parseName(name)
		if !ok {
			changed = f.quarantine(path, "file name is not an entry name") || changed
			continue
		}
		info, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if info.Size() > headerSize+maxPacketSize {
			changed = f.quarantine(path, "file larger than any record: "+strconv.FormatInt(info.Size(), 10)+" bytes") || changed
			continue
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := decodeRecord(k, b)
		if err != nil {
			changed = f.quarantine(path, err.Error()) || changed
			continue
		}
		entries = append(entries, Entry{Key: k, Packet: p})
	}
	if changed {
		if err := f.syncDir(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(entries, func(a, b Entry) int { return a.Key.compare(b.Key) })
	return entries, nil
}

// quarantine renames the corrupt file path to path+".corrupt", so that it is
// never loaded again yet kept for inspection, and logs why. An older
// quarantined file of the same name is replaced. It reports whether the
// directory changed.
func (f *File) quarantine(path, reason string) bool {
	err := os.Rename(path, path+corruptSuffix)
	if err != nil {
		f.log.Error("store: corrupt file left out; cannot quarantine it",
			slog.String("file", path), slog.String("reason", reason), slog.Any("err", err))
		return false
	}
	f.log.Error("store: quarantined a corrupt file",
		slog.String("file", path), slog.String("reason", reason), slog.String("renamed", path+corruptSuffix))
	return true
}

// syncDir makes renames and removals in the directory durable.
func (f *File) syncDir() error {
	if f.noSync || runtime.GOOS == "windows" { // Windows cannot sync a directory
		return nil
	}
	return f.dirf.Sync()
}

// fileName returns the name of k's file, or "" for a key nothing can be
// stored under. Zero-padded lowercase hex makes the names sort in key order.
func fileName(k Key) string {
	switch k.Dir {
	case Outbound:
		return fmt.Sprintf("out-%016x%s", k.Seq, entrySuffix)
	case Inbound:
		if k.Seq == 0 || k.Seq > 0xffff {
			return ""
		}
		return fmt.Sprintf("in-%04x%s", k.Seq, entrySuffix)
	}
	return ""
}

// parseName returns the key whose file is name. Only the exact names
// fileName makes are accepted.
func parseName(name string) (Key, bool) {
	var k Key
	var hex string
	if rest, ok := strings.CutPrefix(name, "out-"); ok {
		k.Dir = Outbound
		hex, ok = strings.CutSuffix(rest, entrySuffix)
		if !ok {
			return Key{}, false
		}
	} else if rest, ok := strings.CutPrefix(name, "in-"); ok {
		k.Dir = Inbound
		hex, ok = strings.CutSuffix(rest, entrySuffix)
		if !ok {
			return Key{}, false
		}
	} else {
		return Key{}, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return Key{}, false
	}
	k.Seq = seq
	if fileName(k) != name {
		return Key{}, false
	}
	return k, true
}
