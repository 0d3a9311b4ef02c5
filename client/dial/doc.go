// Package dial opens the byte stream an MQTT client speaks over: plain TCP,
// TLS, a Unix domain socket, or WebSocket over either (MQTT 3.1.1 §4.2 and
// §6), directly or through a SOCKS5 proxy. Its [Dialer] is what a client
// uses when client.Config.Dial is nil; client.Config.Transport is one.
//
// [ParseBrokerURL] reads the broker addresses a user writes ("mqtts://host",
// "ws://host:9001/mqtt", "unix:///run/mqtt.sock", a bare "host:port") and
// fills in the default port and WebSocket path. [Dialer.Dial] connects to
// one and returns a net.Conn ready for the CONNECT packet.
//
// # Goroutines
//
// Dial runs on the caller's goroutine and honours its context through every
// stage: TCP connect, SOCKS5 negotiation, TLS handshake and WebSocket
// upgrade. It starts no goroutine that outlives it. A WebSocket connection
// starts none either: Read, Write and Close run on the callers' goroutines,
// and a ping from the broker is answered from inside Read.
//
// # Errors
//
// Dial's errors start with "dial: " and the broker URL without its user
// information (see [Redact]), and wrap the cause: a *net.OpError, a
// *tls.CertificateVerificationError, or ctx.Err() when the context ended
// first. Errors of [ParseBrokerURL] and of a bad Proxy setting never show a
// user name or password either. On a WebSocket connection, Read fails with
// [ErrNonBinaryFrame], [ErrFrameTooLarge] or [ErrWebSocketProtocol] when the
// broker breaks the rules of MQTT over WebSocket or of RFC 6455, and closes
// the connection.
//
// # Memory
//
// A WebSocket connection copies frame payloads straight from the socket
// into the buffer given to Read: no frame is buffered whole, whatever its
// size. Write masks into a buffer of its own, so the caller's slice is
// neither changed nor kept.
//
// # Dependencies
//
// The package imports no net/http: the WebSocket handshake is written and
// read by hand, so a program built on the client links no HTTP stack. SOCKS5 comes from golang.org/x/net/proxy, whose types stay out of
// the API.
package dial
