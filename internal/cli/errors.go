package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// Exit statuses. mosquitto_pub and mosquitto_sub exit 1 for every usage
// error, for --help and for --version, so the tools do too, rather than 2
// for usage errors as other Go commands of this repository would: scripts
// written for mosquitto test for these values. A broker's refusal exits with
// its CONNACK return code (1 to 5).
const (
	ExitOK      = 0
	ExitFailure = 1
	// ExitTimeout is mosquitto's MOSQ_ERR_TIMEOUT, the status of
	// mosquitto_sub -W when the time is up; mqtt-pub --timeout uses it too.
	ExitTimeout = 27
)

// UsageError is a mistake on the command line or in the options file. Msg
// is the complete text mosquitto prints for it, newlines included; with
// Hint set the tool adds "Use '<tool> --help' to see usage." after it, as
// mosquitto does for errors found while reading the options.
type UsageError struct {
	Msg  string
	Hint bool
}

// Error returns the message mosquitto would print.
func (e *UsageError) Error() string { return e.Msg }

func usageErr(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...), Hint: true}
}

// Sentinels Parse returns for --help and --version.
var (
	ErrHelp    = errors.New("cli: --help")
	ErrVersion = errors.New("cli: --version")
)

// ReportParseError prints what err asks for, as mosquitto does, and returns
// the exit status: usage on stdout for --help, the version for --version, and
// the message (with the hint) on stderr for anything else.
func ReportParseError(tool Tool, err error, stdout, stderr io.Writer) int {
	var ue *UsageError
	switch {
	case errors.Is(err, ErrHelp):
		PrintUsage(stdout, tool)
	case errors.Is(err, ErrVersion):
		PrintVersion(stdout, tool)
	case errors.As(err, &ue):
		io.WriteString(stderr, ue.Msg)
		if ue.Hint {
			fmt.Fprintf(stderr, "\nUse '%s --help' to see usage.\n", tool)
		}
	default:
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return ExitFailure
}

// connackText is mosquitto_connack_string, for the messages of a refused
// connection.
func connackText(code packets.ConnackCode) string {
	switch code {
	case packets.ConnackAccepted:
		return "Connection Accepted."
	case packets.ConnackUnacceptableProtocolVersion:
		return "Connection Refused: unacceptable protocol version."
	case packets.ConnackIdentifierRejected:
		return "Connection Refused: identifier rejected."
	case packets.ConnackServerUnavailable:
		return "Connection Refused: broker unavailable."
	case packets.ConnackBadUsernameOrPassword:
		return "Connection Refused: bad user name or password."
	case packets.ConnackNotAuthorized:
		return "Connection Refused: not authorised."
	}
	return "Connection Refused: unknown reason."
}

// reasonText is mosquitto_reason_string: how mosquitto's tools name an
// MQTT 5.0 reason code of 0x80 or above.
func reasonText(c packets.ReasonCode) string {
	switch c {
	case 0x80:
		return "Unspecified error"
	case 0x81:
		return "Malformed Packet"
	case 0x82:
		return "Protocol Error"
	case 0x83:
		return "Implementation specific error"
	case 0x84:
		return "Unsupported Protocol Version"
	case 0x85:
		return "Client Identifier not valid"
	case 0x86:
		return "Bad User Name or Password"
	case 0x87:
		return "Not authorized"
	case 0x88:
		return "Server unavailable"
	case 0x89:
		return "Server busy"
	case 0x8A:
		return "Banned"
	case 0x8B:
		return "Server shutting down"
	case 0x8C:
		return "Bad authentication method"
	case 0x8D:
		return "Keep Alive timeout"
	case 0x8E:
		return "Session taken over"
	case 0x8F:
		return "Topic Filter invalid"
	case 0x90:
		return "Topic Name invalid"
	case 0x91:
		return "Packet Identifier in use"
	case 0x92:
		return "Packet Identifier not found"
	case 0x93:
		return "Receive Maximum exceeded"
	case 0x94:
		return "Topic Alias invalid"
	case 0x95:
		return "Packet too large"
	case 0x96:
		return "Message rate too high"
	case 0x97:
		return "Quota exceeded"
	case 0x98:
		return "Administrative action"
	case 0x99:
		return "Payload format invalid"
	case 0x9A:
		return "Retain not supported"
	case 0x9B:
		return "QoS not supported"
	case 0x9C:
		return "Use another server"
	case 0x9D:
		return "Server moved"
	case 0x9E:
		return "Shared Subscriptions not supported"
	case 0x9F:
		return "Connection rate exceeded"
	case 0xA0:
		return "Maximum connect time"
	case 0xA1:
		return "Subscription identifiers not supported"
	case 0xA2:
		return "Wildcard Subscriptions not supported"
	}
	return "Unknown reason"
}

// ReportConnectError prints why the connection failed, in mosquitto's words
// where it has them, and returns the exit status: the CONNACK return code for
// a refusal, 8 (MOSQ_ERR_TLS) for a TLS failure, 1 otherwise. The error of a
// refusal (a *client.ConnectError) may come from the first connection or
// from a later one that the client gave up on. stderr is the tool's error
// stream, already silenced by --quiet.
func (o *Options) ReportConnectError(stderr io.Writer, err error) int {
	var refused *client.ConnectError
	if errors.As(err, &refused) && refused.Reason != nil {
		// MQTT 5.0: mosquitto's reason string, and the reason code as the
		// exit status; mosquitto_pub's loop then ends with a protocol error.
		code := refused.Reason.Code
		if code == packets.ReasonUnsupportedProtocolVersion {
			fmt.Fprintf(stderr, "Connection error: %s. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n", reasonText(code))
		} else {
			fmt.Fprintf(stderr, "Connection error: %s\n", reasonText(code))
		}
		if o.Tool == Pub {
			io.WriteString(stderr, "Error: A network protocol error occurred when communicating with the broker.\n")
		}
		return int(code)
	}
	if errors.As(err, &refused) {
		fmt.Fprintf(stderr, "Connection error: %s\n", connackText(refused.Code))
		if o.Tool == Pub {
			io.WriteString(stderr, "Error: The connection was refused.\n")
		}
		return int(refused.Code)
	}
	if isTLSError(err) {
		// mosquitto says no more than "A TLS error occurred." (and when
		// the handshake fails before its connect call returns, exits 1
		// with "Unable to connect (A TLS error occurred.)."); the cause
		// follows here.
		fmt.Fprintf(stderr, "Error: A TLS error occurred (%s).\n", strings.TrimPrefix(err.Error(), "client: "))
		return exitTLS
	}
	fmt.Fprintln(stderr, connectErrorText(err))
	return ExitFailure
}

// exitTLS is MOSQ_ERR_TLS, mosquitto's exit status for a TLS failure.
const exitTLS = 8

// isTLSError reports whether a connection failed in the TLS handshake.
func isTLSError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &record) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "tls: ")
}

// connectErrorText is the one line printed for a connection that failed
// before any CONNACK. libmosquitto prints strerror(errno) for a failed
// socket call ("Error: Connection refused"); Go's errno texts are the same
// but start in lower case.
func connectErrorText(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "Unable to connect (Lookup error.)."
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "Error: " + capitalize(errno.Error())
	}
	if errors.Is(err, client.ErrConnackTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return "Error: Connection timed out"
	}
	return "Error: " + strings.TrimPrefix(err.Error(), "client: ")
}

func capitalize(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
