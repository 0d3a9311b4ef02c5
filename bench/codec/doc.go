// Package codec holds benchmarks, and nothing else, that compare feedmq's
// packets codec with the packet packages of github.com/eclipse/paho.mqtt.golang
// (v1.5.1) and github.com/mochi-mqtt/server/v2 (v2.7.9) on the same MQTT 3.1.1
// packets: PUBLISH at QoS 1 with a 20-byte topic and a 64-byte payload,
// CONNECT with a will, a user name and a password, and SUBSCRIBE with three
// filters.
//
// Each Benchmark<Op> has one sub-benchmark per library, named feedmq, paho
// and mochi, so that benchstat or grep can pair them. Decode benchmarks time
// each library twice: over a byte slice holding one packet (feedmq, paho,
// mochi) and over a stream that repeats the packet forever, read through a
// 4 KiB bufio.Reader as a connection's read loop would (feedmq-reader,
// paho-reader, mochi-reader).
//
// Before any timing starts, each benchmark checks that the three libraries
// produce exactly the same wire bytes for the packet, or decode the same
// bytes to the same fields, and fails if they do not.
//
// Inputs that are not fixed-size (payloads, passwords, the slice of topic
// filters) are package-level values shared by every library, so the loops
// measure the codec and not the caller building its slices. Each loop does
// build its packet struct through the library's own API, as a caller would.
//
// Run them all, and print ratios against feedmq, with
//
//	cd bench && go run ./cmd/ratios
package codec
