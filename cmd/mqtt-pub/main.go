// Command mqtt-pub publishes MQTT messages. It is a drop-in replacement for
// mosquitto_pub 2.0 with MQTT 5.0, 3.1.1 and 3.1: the same options, defaults,
// messages and exit statuses, and the same per-user options file under its
// own name ($XDG_CONFIG_HOME/mqtt-pub or ~/.config/mqtt-pub).
//
// Unlike mosquitto_pub it does not give up when the connection drops: it
// reconnects and resends every QoS 1 and 2 message it has accepted until the
// broker acknowledged it, in every mode (-m, -f, -s, -n, and -l line by line
// as stdin delivers them), so no message is lost. A QoS 2 message is resent
// as a DUP of the same flow when the session persists (-c); with a clean
// session the broker forgets the flow on reconnection and the message goes
// out again as a new one, which mosquitto still delivers once, as it
// forwards a QoS 2 message only on PUBREL. --timeout bounds the wait; QoS 0
// lines published while the connection is down wait for it.
//
// Exit status: 0 when every message was delivered; the CONNACK return code
// when the broker refuses the connection (5: not authorised; at MQTT 5.0 the
// reason code, 135); 27 when
// --timeout ran out; 1 for everything else, usage errors, --help and
// --version included, as mosquitto_pub.
//
// -d prints mosquitto_pub's packet trace on stdout, in its words: "Client
// <id> sending PUBLISH (d0, q1, r0, m1, 'topic', ... (5 bytes))". The
// password is never printed.
//
// Run mqtt-pub --help for the options; the internal/cli package documents
// where they differ from mosquitto_pub.
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
