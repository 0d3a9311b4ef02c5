// Package mosquittotest starts a real mosquitto broker for integration tests.
//
// Behaviour that a scripted fake broker cannot vouch for (retained messages,
// persistent sessions across a broker restart, authentication, ACLs, TLS and
// WebSockets) is tested against mosquitto itself. [Start] writes a
// configuration into t.TempDir, runs mosquitto on free loopback ports, waits
// until it answers an MQTT CONNECT, and registers a t.Cleanup that stops it
// and prints its log when the test failed.
//
// When the mosquitto binary is missing, [Start] skips the test, unless the
// CI or FEEDMQ_REQUIRE_BROKER=1 environment variable is set, in which case it
// fails: CI must not pass by skipping every integration test.
// FEEDMQ_MOSQUITTO may name the binary explicitly.
//
// [Start] and [Broker.Restart] report failures with t.Fatal, so call them
// from the test goroutine. The other methods are safe for concurrent use.
//
// Mosquitto 2.0.11 binds WebSockets listeners to all interfaces whatever
// address the configuration names (fixed in 2.0.12), so [Options.WebSockets]
// exposes that port beyond loopback while the test runs.
package mosquittotest
