// Package sink is an MQTT broker for client benchmarks that answers every
// packet at once and does nothing else, so that a benchmark against it
// measures the client's own cost rather than a broker's.
//
// It speaks MQTT 3.1, 3.1.1 and 5.0, the revision being the one the client's
// CONNECT names. It answers CONNECT with CONNACK (accepted, no session),
// PUBLISH at QoS 1 with PUBACK, PUBLISH at QoS 2 with PUBREC, PUBREL with
// PUBCOMP, SUBSCRIBE with SUBACK granting the QoS asked for, UNSUBSCRIBE with
// UNSUBACK and PINGREQ with PINGRESP, and closes the connection on
// DISCONNECT. It routes nothing: a message published to it goes nowhere.
// MQTT 5.0 acknowledgments take their short form (reason code Success, no
// properties; MQTT 5.0 §3.4.2.1).
//
// A subscription to a filter of the form
//
//	flood/q<qos>/n<count>/s<size>/w<window>
//
// makes it send count PUBLISH packets with a size-byte payload to that topic
// at the granted QoS, right after the SUBACK, as fast as the connection takes
// them. At QoS 1 and 2 it keeps at most window messages unacknowledged: a
// slot is given back by PUBACK, or at QoS 2 by PUBCOMP after it answered
// PUBREC with PUBREL. FloodTopic builds such a filter.
//
// Each connection has a reader goroutine, which decodes only the fixed
// header and the few fields an answer needs, a writer goroutine, which owns
// writes to the connection, and a goroutine per flood. The reader and the
// floods append packets to a buffer the writer takes whole each time it
// wakes, so a burst of acknowledgments leaves in one write and nothing
// allocates per packet; the reader never waits for the writer.
//
// A benchmark runs the sink in a process of its own (Start), so that its
// CPU time and allocations do not count as the client's: the benchmark
// binary calls RunIfChild first thing in TestMain or main.
package sink
