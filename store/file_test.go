package store_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/packets"
	"github.com/feedmq/feedmq/store"
	"github.com/feedmq/feedmq/store/storetest"
)

func TestFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts store.FileOptions
	}{
		{"Sync", store.FileOptions{}},
		{"NoSync", store.FileOptions{NoSync: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				dirs = make(map[store.Store]string)
			)
			open := func(t *testing.T, dir string) store.Store {
				s, err := store.OpenFile(dir, &tc.opts)
				require.NoError(t, err)
				mu.Lock()
				dirs[s] = dir
				mu.Unlock()
				return s
			}
			storetest.Run(t,
				func(t *testing.T) store.Store { return open(t, t.TempDir()) },
				func(t *testing.T, s store.Store) store.Store {
					mu.Lock()
					dir := dirs[s]
					mu.Unlock()
					require.NoError(t, s.Close())
					return open(t, dir)
				})
		})
	}
}

// openFile opens dir and closes the store when the test ends.
func openFile(t *testing.T, dir string, opts *store.FileOptions) *store.File {
	t.Helper()
	s, err := store.OpenFile(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// logBuffer collects log records for inspection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the records at level ("ERROR", "WARN"...).
func (b *logBuffer) lines(level string) []string {
	var out []string
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, " level="+level+" ") {
			out = append(out, line)
		}
	}
	return out
}

func captureLog() (*slog.Logger, *logBuffer) {
	b := new(logBuffer)
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func out(seq uint64) store.Key { return store.Key{Dir: store.Outbound, Seq: seq} }
func in(id uint16) store.Key   { return store.Key{Dir: store.Inbound, Seq: uint64(id)} }

// record builds the content of an entry file as the package documentation
// describes it, for packets the store would never write itself.
func record(flags byte, packet []byte) []byte {
	b := []byte{0xF5, 1, flags, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:8], uint32(len(packet)))
	tab := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Update(crc32.Update(0, tab, b[:8]), tab, packet)
	binary.BigEndian.PutUint32(b[8:12], crc)
	return append(b, packet...)
}

func encode(t *testing.T, p packets.Packet) []byte {
	t.Helper()
	b, err := p.Append(nil)
	require.NoError(t, err)
	return b
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err)
	return b
}

// TestFileFormat pins the bytes of entry files. The CRCs were checked with
// an implementation of CRC-32C independent of hash/crc32.
func TestFileFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    store.Key
		p    packets.Packet
		file string
		want string
	}{
		{
			name: "PUBLISH QoS 1", k: out(0x2a),
			p:    &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "a/b", PacketID: 0x1234, Payload: []byte("hi")},
			file: "out-000000000000002a.mqtt",
			want: `f5 01 00 00 // magic, version 1, no flags, reserved
				00 00 00 0b // packet length 11
				70 e7 d4 92 // CRC-32C
				32 09 // PUBLISH QoS 1, remaining length 9
				00 03 61 2f 62 // topic "a/b"
				12 34 // packet identifier
				68 69 // payload "hi"`,
		},
		{
			name: "PUBLISH without packet identifier", k: out(0xfedcba9876543210),
			p:    &packets.Publish{Dup: true, QoS: packets.ExactlyOnce, Retain: true, TopicName: "t"},
			file: "out-fedcba9876543210.mqtt",
			want: `f5 01 01 00 // magic, version 1, flag: no packet identifier, reserved
				00 00 00 07 // packet length 7
				b9 dc 17 ca // CRC-32C
				3d 05 // PUBLISH DUP QoS 2 retain, remaining length 5
				00 01 74 // topic "t"
				00 01 // placeholder packet identifier`,
		},
		{
			name: "PUBREL", k: out(1),
			p:    &packets.Pubrel{PacketID: 0xbeef},
			file: "out-0000000000000001.mqtt",
			want: `f5 01 00 00 00 00 00 04
				50 8f 64 13 // CRC-32C
				62 02 be ef // PUBREL`,
		},
		{
			name: "PUBREC", k: in(0xbeef),
			p:    &packets.Pubrec{PacketID: 0xbeef},
			file: "in-beef.mqtt",
			want: `f5 01 00 00 00 00 00 04
				d1 a9 e2 24 // CRC-32C
				50 02 be ef // PUBREC`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openFile(t, dir, nil)
			require.NoError(t, s.Put(tc.k, tc.p))
			got, err := os.ReadFile(filepath.Join(dir, tc.file))
			require.NoError(t, err)

			var want []byte
			for line := range strings.Lines(tc.want) {
				line, _, _ = strings.Cut(line, "//")
				want = append(want, unhex(t, line)...)
			}
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))
			flags, packet := want[2], want[12:]
			assert.Equal(t, want, record(flags, packet), "record helper")
		})
	}
}

func TestFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	dir := filepath.Join(t.TempDir(), "state", "store")
	s := openFile(t, dir, nil)
	require.NoError(t, s.Put(out(1), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "p", PacketID: 1}))
	require.NoError(t, s.Put(in(1), &packets.Pubrec{PacketID: 1}))

	for _, d := range []string{dir, filepath.Dir(dir)} {
		info, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeDir|0o700, info.Mode(), d)
	}
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
		info, err := de.Info()
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), info.Mode(), de.Name())
	}
	assert.Equal(t, []string{"LOCK", "in-0001.mqtt", "out-0000000000000001.mqtt"}, names)
}

func TestFileLocked(t *testing.T) {
	if !store.LockSupported {
		t.Skip("no flock on " + runtime.GOOS)
	}
	dir := t.TempDir()
	s, err := store.OpenFile(dir, nil)
	require.NoError(t, err)

	_, err = store.OpenFile(dir, nil)
	require.ErrorIs(t, err, store.ErrLocked)
	assert.Contains(t, err.Error(), dir)
	_, err = store.OpenFile(dir+string(filepath.Separator)+".", nil)
	require.ErrorIs(t, err, store.ErrLocked, "same directory by another name")

	require.NoError(t, s.Close())
	s2 := openFile(t, dir, nil) // the lock went with Close
	require.NoError(t, s2.Close())
}

func TestFileOpenErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	_, err := store.OpenFile(notDir, nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrLocked)
	assert.Contains(t, err.Error(), "store: open "+notDir)
}

func TestFileWriteErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	s := openFile(t, dir, nil)
	require.NoError(t, os.RemoveAll(dir))

	err := s.Put(out(1), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "t", PacketID: 1, Payload: []byte("s3cr3t payload")})
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "store: put out-0000000000000001.mqtt: ")
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.NotContains(t, fmt.Sprintf("%+v", err), "s3cr3t")
}

func TestFileQuarantine(t *testing.T) {
	dir := t.TempDir()
	s, err := store.OpenFile(dir, nil)
	require.NoError(t, err)
	good := map[store.Key]packets.Packet{
		out(1): &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "q", PacketID: 1, Payload: []byte("one")},
		out(2): &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "q", PacketID: 2, Payload: []byte("two two two")},
		out(3): &packets.Publish{QoS: packets.ExactlyOnce, TopicName: "q", PacketID: 3, Payload: []byte("three")},
		out(4): &packets.Pubrel{PacketID: 4},
		in(1):  &packets.Pubrec{PacketID: 1},
		in(2):  &packets.Pubrec{PacketID: 2},
		in(3):  &packets.Pubrec{PacketID: 3},
	}
	for k, p := range good {
		require.NoError(t, s.Put(k, p))
	}
	require.NoError(t, s.Close())

	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, b []byte) {
		require.NoError(t, os.WriteFile(path(name), b, 0o600))
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(path(name))
		require.NoError(t, err)
		return b
	}

	// Damage: name -> its content after the damage.
	bad := make(map[string][]byte)
	damage := func(name string, b []byte) {
		write(name, b)
		bad[name] = b
	}
	b := read("out-0000000000000001.mqtt")
	damage("out-0000000000000001.mqtt", b[:len(b)/2]) // truncated
	b = read("out-0000000000000002.mqtt")
	b[len(b)-3] ^= 0x20 // a flipped bit in the payload
	damage("out-0000000000000002.mqtt", b)
	damage("in-0003.mqtt", nil) // empty
	damage("out-00000000000000ff.mqtt", []byte("this is not a record, just garbage"))
	damage("out-0000000000000100.mqtt", record(0, encode(t, &packets.Puback{PacketID: 9})))
	damage("in-0004.mqtt", record(0, encode(t, &packets.Pubrec{PacketID: 5})))                   // another packet's identifier
	damage("in-0005.mqtt", record(0, encode(t, &packets.Pubrel{PacketID: 5})))                   // wrong direction
	damage("out-0000000000000101.mqtt", record(0, []byte{0x36, 0x05, 0x00, 0x01, 't', 0x00, 1})) // QoS 3: undecodable
	damage("out-0000000000000102.mqtt", record(1, encode(t, &packets.Pubrel{PacketID: 1})))      // flag on a PUBREL
	damage("out-0000000000000103.mqtt", append(record(0, encode(t, &packets.Pubrel{PacketID: 1})), 0))
	damage("out-xyz.mqtt", read("out-0000000000000003.mqtt"))
	damage("in-00001.mqtt", read("in-0001.mqtt"))
	damage("out-000000000000000A.mqtt", read("out-0000000000000003.mqtt"))
	damage("notes.txt", []byte("not ours"))

	// A write that was killed before its rename.
	tmp := "out-0000000000000003.mqtt.123456.tmp"
	write(tmp, read("out-0000000000000003.mqtt")[:5])

	log, logs := captureLog()
	s2 := openFile(t, dir, &store.FileOptions{Logger: log})

	entries, err := s2.Load()
	require.NoError(t, err)
	var keys []store.Key
	for _, e := range entries {
		keys = append(keys, e.Key)
		assert.Equal(t, good[e.Key], e.Packet, "%v", e.Key)
	}
	assert.Equal(t, []store.Key{out(3), out(4), in(1), in(2)}, keys)

	errLines := logs.lines("ERROR")
	assert.Len(t, errLines, len(bad), logs.String())
	for name, content := range bad {
		assert.NoFileExists(t, path(name))
		kept, err := os.ReadFile(path(name + ".corrupt"))
		if assert.NoError(t, err, name) {
			assert.Equal(t, string(content), string(kept), "%s is kept as it was", name)
		}
		assert.Contains(t, logs.String(), "file="+path(name)+" ", "the log names %s", name)
	}
	for _, want := range []string{"reason=\"truncated", "reason=\"CRC-32C mismatch\"", "reason=\"bad magic byte\"",
		"reason=\"wrong packet for the key: a PUBACK is not stored outbound\"", "reason=\"undecodable packet: packets: decode",
		"reason=\"file name is not an entry name\"", "differs from the key"} {
		assert.Contains(t, logs.String(), want)
	}
	assert.NoFileExists(t, path(tmp))
	warn := logs.lines("WARN")
	if assert.Len(t, warn, 1) {
		assert.Contains(t, warn[0], "file="+path(tmp))
	}

	// Quarantined files stay out, and are not reported again.
	require.NoError(t, s2.Close())
	log, logs = captureLog()
	s3 := openFile(t, dir, &store.FileOptions{Logger: log})
	entries2, err := s3.Load()
	require.NoError(t, err)
	assert.Equal(t, entries, entries2)
	assert.Empty(t, logs.String())

	// Reset removes the entries and keeps the quarantined files.
	require.NoError(t, s3.Reset())
	for name := range bad {
		assert.FileExists(t, path(name+".corrupt"))
	}
}

func TestFileLoadQuarantines(t *testing.T) {
	dir := t.TempDir()
	log, logs := captureLog()
	s := openFile(t, dir, &store.FileOptions{Logger: log})
	require.NoError(t, s.Put(out(1), &packets.Publish{QoS: packets.AtLeastOnce, TopicName: "l", PacketID: 1, Payload: []byte("payload")}))
	require.NoError(t, s.Put(out(2), &packets.Pubrel{PacketID: 2}))

	name := filepath.Join(dir, "out-0000000000000001.mqtt")
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	b[len(b)-1] ^= 1
	require.NoError(t, os.WriteFile(name, b, 0o600))

	entries, err := s.Load()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, out(2), entries[0].Key)
	assert.FileExists(t, name+".corrupt")
	assert.Contains(t, logs.String(), "file="+name+" ")
	assert.Len(t, logs.lines("ERROR"), 1)
}

// helperDirEnv names the directory TestHelperWriter writes to. It is set
// only in the child processes TestFileKilled starts.
const helperDirEnv = "FEEDMQ_STORE_HELPER_DIR"

// TestHelperWriter is not a test: it is the child process TestFileKilled
// kills. It churns through QoS 2 flows as fast as it can until killed.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("the child process of TestFileKilled")
	}
	s, err := store.OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64 = 1
	for _, e := range entries {
		if e.Key.Dir == store.Outbound {
			seq = max(seq, e.Key.Seq+1)
		}
	}
	deadline := time.Now().Add(time.Minute) // should the parent be gone
	for ; time.Now().Before(deadline); seq++ {
		id := helperID(seq)
		ops := []func() error{
			func() error { return s.Put(out(seq), helperPublish(seq)) },
			func() error { return s.Put(in(id), &packets.Pubrec{PacketID: id}) },
		}
		if seq > 1 { // PUBREC for the previous message
			ops = append(ops, func() error { return s.Put(out(seq-1), &packets.Pubrel{PacketID: helperID(seq - 1)}) })
		}
		if seq > 3 { // PUBCOMP, and PUBREL received, for an older one
			ops = append(ops,
				func() error { return s.Delete(out(seq - 3)) },
				func() error { return s.Delete(in(helperID(seq - 3))) })
		}
		for _, op := range ops {
			if err := op(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func helperID(seq uint64) uint16 { return uint16(seq%0xffff) + 1 }

// helperPublish returns the message with sequence number seq, whose size and
// content the parent can check.
func helperPublish(seq uint64) *packets.Publish {
	tag := fmt.Sprintf("%d;", seq)
	n := int(seq*977) % (16 << 10)
	payload := bytes.Repeat([]byte(tag), n/len(tag)+1)[:n]
	return &packets.Publish{QoS: packets.ExactlyOnce, TopicName: fmt.Sprintf("kill/%d", seq), PacketID: helperID(seq), Payload: payload}
}

// TestFileKilled kills a process in the middle of writing, a few times over,
// and checks that what it left opens and loads whole.
func TestFileKilled(t *testing.T) {
	switch runtime.GOOS {
	case "js", "wasip1", "ios", "android":
		t.Skip("cannot start a child process on " + runtime.GOOS)
	}
	dir := t.TempDir()
	var lastSeq uint64
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1", "-test.timeout=2m")
		cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
		var output bytes.Buffer // read only once the child has exited
		cmd.Stdout = &output
		cmd.Stderr = &output
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		var waitErr error
		go func() {
			waitErr = cmd.Wait()
			close(exited)
		}()
		t.Cleanup(func() { // should a check below stop the test
			cmd.Process.Kill()
			<-exited
		})

		// Wait until the child has gone through a good number of flows
		// past where the last round stopped.
		target := lastSeq + 30
		deadline := time.Now().Add(30 * time.Second)
		tick := time.NewTicker(time.Millisecond)
		for highestOut(t, dir) < target {
			select {
			case <-exited:
				t.Fatalf("round %d: the writer exited early: %v\n%s", round, waitErr, output.String())
			case <-tick.C:
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no progress past sequence number %d after 30s", round, target)
			}
		}
		tick.Stop()

		if store.LockSupported {
			_, err := store.OpenFile(dir, nil)
			assert.ErrorIs(t, err, store.ErrLocked, "another process holds the directory")
		}

		require.NoError(t, cmd.Process.Kill())
		<-exited
		var exitErr *exec.ExitError
		require.True(t, errors.As(waitErr, &exitErr), "round %d: writer ended with %v, not killed\n%s", round, waitErr, output.String())

		log, logs := captureLog()
		s, err := store.OpenFile(dir, &store.FileOptions{Logger: log})
		require.NoError(t, err, "round %d", round)
		entries, err := s.Load()
		require.NoError(t, err)
		require.NoError(t, s.Close())

		loaded := make(map[string]bool)
		for _, e := range entries {
			checkHelperEntry(t, e)
			switch e.Key.Dir {
			case store.Outbound:
				loaded[fmt.Sprintf("out-%016x.mqtt", e.Key.Seq)] = true
				lastSeq = max(lastSeq, e.Key.Seq)
			case store.Inbound:
				loaded[fmt.Sprintf("in-%04x.mqtt", e.Key.Seq)] = true
			}
		}
		require.NotEmpty(t, entries, "round %d", round)

		// Every file left is the lock, a loaded entry, or quarantined.
		// Killing the process cannot damage a file that was renamed into
		// place, so nothing should be quarantined.
		des, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, de := range des {
			name := de.Name()
			switch {
			case name == "LOCK", loaded[name]:
			case strings.HasSuffix(name, ".corrupt"):
				t.Errorf("round %d: %s was quarantined", round, name)
			default:
				t.Errorf("round %d: unexpected file %s", round, name)
			}
		}
		assert.Empty(t, logs.lines("ERROR"), "round %d", round)
		t.Logf("round %d: killed at sequence number %d, %d entries, %d unfinished writes removed",
			round, lastSeq, len(entries), len(logs.lines("WARN")))
	}
}

// highestOut returns the highest outbound sequence number with a file in dir.
func highestOut(t *testing.T, dir string) uint64 {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var seq uint64
	for _, de := range des {
		var n uint64
		if _, err := fmt.Sscanf(de.Name(), "out-%016x.mqtt", &n); err == nil && !strings.HasSuffix(de.Name(), ".tmp") {
			seq = max(seq, n)
		}
	}
	return seq
}

// checkHelperEntry checks that e is one TestHelperWriter wrote.
func checkHelperEntry(t *testing.T, e store.Entry) {
	t.Helper()
	switch p := e.Packet.(type) {
	case *packets.Publish:
		require.Equal(t, store.Outbound, e.Key.Dir)
		assert.Equal(t, helperPublish(e.Key.Seq), p, "%v", e.Key)
	case *packets.Pubrel:
		require.Equal(t, store.Outbound, e.Key.Dir)
		assert.Equal(t, helperID(e.Key.Seq), p.PacketID, "%v", e.Key)
	case *packets.Pubrec:
		require.Equal(t, store.Inbound, e.Key.Dir)
		assert.Equal(t, e.Key.Seq, uint64(p.PacketID), "%v", e.Key)
	default:
		t.Fatalf("%v: unexpected %T", e.Key, p)
	}
}
