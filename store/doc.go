// Package store keeps the in-flight state of QoS 1 and 2 messages, so that
// they survive a reconnect (MQTT-4.1.0-1) and, with a File, a restart of the
// process.
//
// # What is stored
//
// Two kinds of entries, told apart by the Direction of their Key:
//
//   - Outbound: a QoS 1 or 2 PUBLISH we send, from before it is first sent
//     (possibly before it has a packet identifier, PacketID 0) until its
//     PUBACK, or, for QoS 2, the PUBREL that replaces it under the same key
//     once the PUBREC came, until the PUBCOMP. The key is the message's
//     sequence number, and Load returns outbound entries in sequence order,
//     the order in which MQTT-4.6.0-1 requires them to be resent.
//   - Inbound: a *packets.Pubrec for a QoS 2 message we received and
//     acknowledged with PUBREC and whose PUBREL has not come yet, keyed by
//     its packet identifier. While it is stored, a PUBLISH with that packet
//     identifier is a duplicate (MQTT 3.1.1 §4.3.3).
//
// Nothing else is stored: Put refuses any other packet with an error wrapping
// ErrInvalid. Put encodes the packet before it returns, and Load returns
// fresh packets that own their memory, so neither shares memory with the
// caller.
//
// # Stores
//
// Memory keeps the entries in the process. File keeps them in a directory.
// Both are safe for concurrent use, start no goroutines, and do all their
// work on the calling goroutine. Every method of a
// closed store returns ErrClosed. The storetest package checks that a Store
// implementation behaves as documented here.
//
// # File layout
//
// A File owns a directory (mode 0700) holding:
//
//	LOCK                       locked with flock while a File has the directory open
//	out-000000000000002a.mqtt  the outbound entry with sequence number 42
//	in-0007.mqtt               the inbound entry for packet identifier 7
//	*.tmp                      a record being written
//	*.corrupt                  a quarantined file
//
// File names are fixed-width lowercase hexadecimal, so they sort in key
// order. Each entry file (mode 0600) holds one record: a 12-byte header, then
// the packet as its Append method encodes it.
//
//	byte  0     magic 0xF5
//	byte  1     format version, 1
//	byte  2     flags; bit 0 marks a PUBLISH stored without a packet identifier
//	byte  3     reserved, 0
//	bytes 4-7   length of the packet, big-endian
//	bytes 8-11  CRC-32C (Castagnoli) of bytes 0-7 and of the packet, big-endian
//
// A PUBLISH without a packet identifier cannot be encoded as MQTT (MQTT-2.3.1-1),
// so it is written with identifier 1 and the flag, and loaded with PacketID 0.
//
// # Crash guarantees
//
// Put writes the record to a temporary file in the directory, syncs it,
// renames it over the entry's file and syncs the directory; Delete removes
// the file and syncs the directory. When Put or Delete returns nil, the
// change survives a crash of the process or of the machine. A crash in the
// middle leaves the entry as it was before the call or as it is after it,
// never a mix.
//
// OpenFile removes the temporary files of writes that did not finish. A
// file that cannot be a valid entry (an unknown name, a bad magic byte or
// version, a short file, a CRC mismatch, an undecodable packet, or a packet
// that does not belong under its key) is quarantined: renamed to
// <name>.corrupt and kept for inspection, and logged at Error level with its
// path and the reason through FileOptions.Logger. The other entries still
// load; corruption never makes OpenFile fail or panic. Load reads the
// directory each time and quarantines in the same way.
//
// Opening a directory that another File has open, in this process or in
// another, fails with ErrLocked. The lock is an flock, which the kernel drops
// when the process dies; on platforms without flock there is no such check.
//
// FileOptions.NoSync drops the syncs. Killing the process then still loses
// nothing, but a machine crash may lose entries or bring deleted ones back.
// It is meant for tests and benchmarks only.
//
// # Security
//
// Payloads are stored as they are, unencrypted. MQTT 3.1.1 §5.4.5 (Privacy
// of Application Messages and Control Packets) names encrypted storage of
// data at rest, such as messages kept as part of a Session, as something an
// implementation can offer, not as a requirement. This package leaves it to
// the filesystem (an encrypted volume or directory) and limits access with
// the file modes above.
//
// # Errors
//
// Errors are ErrClosed, errors wrapping ErrLocked or ErrInvalid, and errors
// wrapping the operating system's error for a failed file operation. Their
// messages start with "store:" and name the operation and the file or key.
// They never include payload bytes.
package store
