// Package client holds benchmarks, and nothing else, that compare publishing
// with feedmq's client and with github.com/eclipse/paho.mqtt.golang (v1.5.1)
// against the same real mosquitto on loopback: one 64-byte message to a
// 20-byte topic per operation, at QoS 0, 1 and 2.
//
// BenchmarkPublishSync waits for every message's QoS flow to complete before
// sending the next (feedmq Publish; paho Publish and Token.Wait), so it
// measures the round trip. BenchmarkPublishAsync keeps up to asyncWindow
// messages outstanding, waiting for the oldest when the window is full, and
// then for all of them, so it measures throughput. Besides ns/op and
// allocs/op each reports msgs/s and cpu-ns/op, the CPU time this process
// (the client, not mosquitto) spent per message, which the noise of a
// shared machine moves less than wall time. Sub-benchmarks are named
// qos<q>/feedmq and qos<q>/paho so that the rows pair up.
//
// One mosquitto serves the whole benchmark process: the first benchmark
// starts it and TestMain stops it. Nobody subscribes to the benchmark topic,
// so the broker only acknowledges. Before timing, each benchmark checks that
// its client really delivers: a feedmq subscriber must receive one message
// it publishes on the benchmark topic, with the benchmark's QoS. After
// timing, each waits until mosquitto has caught up with the client (a QoS 0
// message is done once written), so no backlog loads the next benchmark.
//
// Run them, and print medians and ratios, with
//
//	cd bench && ./client/run.sh
package client
