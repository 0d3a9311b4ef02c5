// Package client holds benchmarks, and nothing else, that compare feedmq's
// client with github.com/eclipse/paho.mqtt.golang (v1.5.1, "paho") and
// github.com/eclipse/paho.golang (v0.23.0, its paho package, MQTT 5.0,
// "pahogolang"), publishing and receiving 64-byte and 4 KiB messages on a
// 20-byte topic at QoS 0, 1 and 2, through each library's public API only.
//
// Sub-benchmarks are named Benchmark<Op>/qos<q>-<size>/<library> so that
// bench/cmd/ratios pairs them. feedmq and paho speak MQTT 3.1.1;
// feedmq-mqtt5 (feedmq with Config.Protocol = MQTT5) and pahogolang-mqtt5
// speak 5.0, and run right after them in every repetition, so the table has
// a 3.1.1 row (feedmq against paho) and a 5.0 row (feedmq-mqtt5 against
// paho.golang) per variant. Besides ns/op, B/op and allocs/op, each
// reports msgs/s and cpu-ns/op, the CPU time this process (the client, not
// the broker) spent per message, which the noise of a shared machine moves
// less than wall time.
//
// Client-only benchmarks run against the sink broker (package
// bench/internal/sink), which answers every packet at once from a child
// process of its own, so that their numbers are the client's:
//
//   - BenchmarkSinkPublish: one goroutine publishes and waits for each
//     message's flow (feedmq Publish, paho Publish and Token.Wait,
//     paho.golang Publish).
//   - BenchmarkSinkPublishParallel: the same blocking calls from 64
//     goroutines sharing one client.
//   - BenchmarkSinkPublishAsync: up to asyncWindow messages outstanding
//     (feedmq PublishAsync, paho tokens; paho.golang has no way to learn when
//     an asynchronous publish completes, so feedmq-mqtt5 has no counterpart).
//   - BenchmarkSinkReceive: the sink floods b.N messages, at QoS 1 and 2
//     with floodWindow unacknowledged at most, and a handler counts them.
//   - BenchmarkFloorReceive: feedmq's QoS 0 SinkReceive beside a bare
//     packets.Reader on the socket, without and with one payload copy per
//     message: what any client pays below its own code.
//
// Through a real mosquitto on loopback (one per benchmark process, started
// by the first benchmark that needs it):
//
//   - BenchmarkMosquittoPublish: one message at a time, waiting for each,
//     at 3.1.1 and 5.0.
//   - BenchmarkMosquittoPublishAsync: up to asyncWindow outstanding, feedmq
//     and paho only.
//
// Nobody subscribes there, so the broker only acknowledges; before timing,
// each checks that its client really delivers (a feedmq subscriber must
// receive one message it publishes, with the benchmark's QoS). After timing,
// every publish benchmark waits until the broker has caught up with the
// client (a QoS 0 message is done once written), so no backlog loads the
// next benchmark.
//
// Run them, and print medians and ratios, with
//
//	bench/client/run.sh                 # 5 repetitions, 8 to 12 minutes
//	BENCH_QUICK=1 bench/client/run.sh   # one iteration of each
package client
