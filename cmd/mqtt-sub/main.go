// Command mqtt-sub subscribes to MQTT topics and prints the messages. It is a
// drop-in replacement for mosquitto_sub 2.0 with MQTT 5.0, 3.1.1 and 3.1: the same
// options, defaults, output formats (-v, -N, -F with its %, @ and \ fields),
// messages and exit statuses, and the same per-user options file under its
// own name ($XDG_CONFIG_HOME/mqtt-sub or ~/.config/mqtt-sub).
//
// When the connection drops it reconnects and subscribes again.
//
// Exit status: 0 on success, -C reached, -E, or SIGINT/SIGTERM; the CONNACK
// return code when the broker refuses the connection (5: not authorised);
// 27 when -W ran out ("Timed out"); 1 for everything else, usage errors,
// --help and --version included, as mosquitto_sub.
//
// -d prints mosquitto_sub's packet trace on stdout, among the messages, in
// its words: "Client <id> received PUBLISH (d0, q1, r0, m1, 'topic', ...
// (5 bytes))", and "Subscribed (mid: 1): 1" after each SUBACK. A QoS 1 or 2
// message prints before its acknowledgment, where mosquitto_sub prints it
// once the flow is complete.
//
// Run mqtt-sub --help for the options; the internal/cli package documents
// where they differ from mosquitto_sub.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
