package cli

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Version is the version the tools report: the module version they were
// built from, or "(devel)" in a source tree.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// PrintVersion prints the --version line.
func PrintVersion(w io.Writer, tool Tool) {
	fmt.Fprintf(w, "%s version %s (feedmq, MQTT 5.0, 3.1.1 and 3.1), a drop-in for %s 2.0.\n", tool, Version(), tool.mosquittoName())
}

// PrintUsage prints the --help text, laid out as mosquitto's.
func PrintUsage(w io.Writer, tool Tool) {
	text := pubUsage
	if tool == Sub {
		text = subUsage
	}
	text = strings.NewReplacer("{version}", Version(), "<tool>", tool.String()).Replace(text + sharedUsage)
	io.WriteString(w, text)
}

const pubUsage = `mqtt-pub is a simple mqtt client that will publish a message on a single topic and exit.
It reconnects when the connection drops and resends QoS 1 and 2 messages until the broker
acknowledges them.
mqtt-pub version {version} (feedmq, MQTT 5.0, 3.1.1 and 3.1).

Usage: mqtt-pub {[-h host] [--unix path] [-p port] [-u username] [-P password | --pw-file file] -t topic | -L URL}
                {-f file | -l | -n | -m message | -s}
                [-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time] [--timeout time]
                [-A bind_address] [--nodelay] [--connect-retry]
                [-i id] [-I id_prefix]
                [-d] [--quiet]
                [-M max_inflight]
                [-u username [-P password]]
                [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                [{--cafile file | --capath dir} [--cert file] [--key file]
                  [--ciphers ciphers] [--insecure]
                  [--tls-alpn protocol]
                  [--tls-use-os-certs]]
                [--proxy socks-url]
       mqtt-pub --help

 -A : bind the outgoing socket to this host/ip address. Use to control which interface
      the client communicates over.
 -d : enable debug messages.
 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects. With -q 2 it also makes resends after
      a reconnection exactly once on every broker.
 -f : send the contents of a file as the message.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to a random id.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
      ws(s)://[username[:password]@]host[:port]/topic
 -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -M : the maximum inflight messages for QoS 1/2. Defaults to 20.
 -n : send a null (zero length) message.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 -u : provide a username
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -D : Define MQTT v5 properties: -D command property value, or
      -D command user-property name value. Makes the client MQTT v5.
 -x : Set the session-expiry-interval property on the CONNECT packet (MQTT v5).
      0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does
      not expire. Defaults to -1 with -c, 0 without.
 --help : display this message.
 --connect-retry : keep retrying the first connection instead of exiting when it fails.
 --nodelay : accepted for compatibility; Nagle's algorithm is always off.
 --pw-file : read the password from the first line of this file. The password may also
             come from the ` + PasswordEnv + ` environment variable when -u is given.
 --quiet : don't print error messages.
 --repeat : if publish mode is -f, -m, -n or -s, then repeat the publish N times.
 --repeat-delay : if using --repeat, wait time seconds between publishes. Defaults to 0.
 --timeout : give up after this many seconds, even on QoS 1 and 2 messages not yet
             acknowledged (exit status 27). Without it mqtt-pub waits as long as it takes.
 --unix : connect to a broker through a unix domain socket instead of a TCP socket,
          e.g. /tmp/mosquitto.sock
`

const subUsage = `mqtt-sub is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
It reconnects when the connection drops and subscribes again.
mqtt-sub version {version} (feedmq, MQTT 5.0, 3.1.1 and 3.1).

Usage: mqtt-sub {[-h host] [--unix path] [-p port] [-u username] [-P password | --pw-file file] -t topic | -L URL [-t topic]}
                [-c] [-k keepalive] [-q qos]
                [-C msg_count] [-E] [-R] [--retained-only] [--remove-retained] [-T filter_out] [-U topic ...]
                [-F format]
                [-W timeout_secs] [--max-packet-size bytes]
                [-A bind_address] [--nodelay] [--connect-retry]
                [-i id] [-I id_prefix]
                [-d] [-N] [--quiet] [-v]
                [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                [{--cafile file | --capath dir} [--cert file] [--key file]
                  [--ciphers ciphers] [--insecure]
                  [--tls-alpn protocol]
                  [--tls-use-os-certs]]
                [--proxy socks-url]
       mqtt-sub --help

 -A : bind the outgoing socket to this host/ip address. Use to control which interface
      the client communicates over.
 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects.
 -C : disconnect and exit after receiving the 'msg_count' messages.
 -d : enable debug messages.
 -E : Exit once all subscriptions have been acknowledged by the broker.
 -F : output format.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to a random id.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
      ws(s)://[username[:password]@]host[:port]/topic
 -M : the maximum inflight messages for QoS 1/2. Defaults to 20.
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
 -u : provide a username
 -U : unsubscribe from a topic. May be repeated.
 -v : print published messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -D : Define MQTT v5 properties: -D command property value, or
      -D command user-property name value. Makes the client MQTT v5.
 -x : Set the session-expiry-interval property on the CONNECT packet (MQTT v5).
      0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does
      not expire. Defaults to -1 with -c, 0 without.
 -W : Specifies a timeout in seconds how long to process incoming MQTT messages.
 --help : display this message.
 --connect-retry : keep retrying the first connection instead of exiting when it fails.
 --max-packet-size : the largest packet to accept from the broker, in bytes after its fixed
                     header (for a message: the topic, the payload and 2 to 4 bytes).
                     Defaults to 268435455, the most MQTT allows, as mosquitto_sub.
                     A larger packet closes the connection with a warning, and mqtt-sub
                     reconnects without printing that message.
 --nodelay : accepted for compatibility; Nagle's algorithm is always off.
 --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
 --pw-file : read the password from the first line of this file. The password may also
             come from the ` + PasswordEnv + ` environment variable when -u is given.
 --quiet : don't print error messages.
 --random-filter : only print a percentage of received messages. Set to 100 to have all
                   messages printed, 50.0 to have half of the messages received on average
                   printed, and so on.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --remove-retained : send a message to the server to clear any received retained messages
                     Use -T to filter out messages you do not want to be cleared.
 --unix : connect to a broker through a unix domain socket instead of a TCP socket,
          e.g. /tmp/mosquitto.sock
`

const sharedUsage = ` --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
 --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
 --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --ciphers : colon-separated TLS 1.2 cipher suites, by OpenSSL or IANA name.
 --tls-alpn : protocol to offer by ALPN.
 --tls-version : lowest TLS protocol version, can be one of tlsv1.3 or tlsv1.2.
                 Defaults to tlsv1.2.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
 --tls-use-os-certs : Load and trust OS provided CA certificates.
 --proxy : SOCKS5 proxy URL of the form:
           socks5h://[username[:password]@]hostname[:port]
           Only "none" and "username" authentication is supported.

Default options are read from $XDG_CONFIG_HOME/<tool> or ~/.config/<tool>, one per line.
See https://mosquitto.org/ for the options mosquitto_pub and mosquitto_sub share.

`
