// Package cli is the code cmd/mqtt-pub and cmd/mqtt-sub share: their
// command line, the per-user file of default options, the client.Config
// both build from it (TLS from files included: TLSFiles), the errors and
// exit statuses they report, the packet trace of -d (Trace), and the
// output formats of mqtt-sub.
//
// Both tools are drop-in replacements for mosquitto_pub and mosquitto_sub
// 2.0 speaking MQTT 5.0, 3.1.1 and 3.1, so this package follows mosquitto's
// client_shared.c closely: the same option names, defaults and checks, in
// the same order, with the same messages and exit statuses (1 for usage
// errors, --help and --version included; the CONNACK return code for a
// refusal; 27 for a timeout). What the tools add is that they keep going
// when the link drops: mqtt-pub resends every QoS 1 and 2 message until the
// broker acknowledged it, mqtt-sub subscribes again.
//
// # Parsing
//
// Parse takes the arguments and an environment lookup and returns Options or
// an error to report. Options are registered in a flag.FlagSet, which holds
// their names and flag.Values; the loop that walks the arguments is
// mosquitto's own (client_config_line_proc) rather than FlagSet.Parse,
// because mosquitto accepts "-t" and "--topic" but not "-topic" or "--t",
// reports an unknown option or a stray argument by the text given, and
// checks some options before it looks for their value.
//
// Parse reads nothing but the options file and, for --pw-file, the password
// file, and starts no goroutine.
//
// # Differences from mosquitto
//
// On purpose, each also noted where it is made:
//
//   - MQTT 5.0 (-V 5, -D, -x, --retain-as-published): what the client
//     cannot send is refused by name (props.go): -D unsubscribe
//     user-property, -D disconnect server-reference, a Payload Format
//     Indicator above 1, and -c with
//     -x 0. A Payload Format Indicator of 0 is left out, a Topic Alias
//     turns on the client's own aliases, -D properties with a later -V 311
//     fail as mosquitto fails for CONNECT properties, and -x -1 without -c
//     sends 4294967294. A 5.0 refusal exits with its reason code.
//     -x and --retain-as-published have no effect at 3.1.1, as in
//     mosquitto.
//   - TLS-PSK and OpenSSL engines are refused with a message; --ciphers
//     takes cipher names only (see CipherSuites); --tls-version tlsv1.1 is
//     refused; TLS errors say why, after mosquitto's words.
//   - -d prints mosquitto's packet trace on stdout, line for line (see
//     Trace), but for the client identifier of a run without -i at 3.1.1
//     (see below), and for mqtt-sub's messages: it prints a QoS 1 or 2
//     message before acknowledging it, in the order of arrival, where
//     mosquitto_sub prints it once its flow is complete (a QoS 2 one after
//     the messages that arrived meanwhile). After a refusal mosquitto_sub
//     also prints "sending DISCONNECT", which mqtt-sub does not send. A
//     reconnection shows as a new CONNECT.
//   - An empty topic and a port that is not a number are usage errors where
//     mosquitto fails later; -L takes IPv6 literals in brackets.
//   - --random-filter is a percentage as documented (mosquitto_sub 2.0.11
//     prints a tenth as many messages as asked).
//   - Without -i, the client ID is random ("feedmq-" and 16 hex digits)
//     where mosquitto 2.0.11 sends an empty one with MQTT 3.1.1.
//   - Added: --pw-file and the MQTT_PASSWORD variable, --connect-retry,
//     mqtt-pub's --timeout and mqtt-sub's --max-packet-size (by default
//     the protocol's limit, which is what mosquitto_sub accepts);
//     "--name=value" for long options.
package cli
