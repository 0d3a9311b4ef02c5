// Package brokers starts the MQTT brokers of the broker matrix for tests:
// mosquitto (through internal/mosquittotest), mochi (in the test process),
// RabbitMQ 3.x with its MQTT plugins (one node or a cluster) and aedes (a
// node.js server script written by Start). Each broker runs on free
// loopback ports with a configuration written into a temporary directory,
// requires the username [User] with the password [Password], and is
// stopped by a t.Cleanup registered by its Start function.
//
// A broker that is not installed skips the test with a message saying how
// to install it, unless FEEDMQ_REQUIRE_BROKER=1 or CI is set: then it fails
// the test, so that CI cannot pass by skipping. scripts/test.sh installs
// every broker (apt-get for mosquitto and RabbitMQ, npm for aedes and
// MQTT.js into [NodeModules]).
//
// What each broker lacks is described by [Broker.Lacks], so that a check of
// a missing feature is skipped with a reason naming the broker and the
// feature rather than silently.
//
// Start functions and Restart report failures with t.Fatal: call them from
// the test goroutine. The other methods are safe for concurrent use.
package brokers
