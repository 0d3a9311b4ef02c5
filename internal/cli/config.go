package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/client/dial"
	"github.com/feedmq/feedmq/packets"
)

// Reconnection backoff of both tools: quicker to come back than the
// client's default, as an interactive tool should be.
var reconnect = client.Backoff{InitialDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second}

// Output is where a run writes.
type Output struct {
	// Stdout receives the messages of mqtt-sub and the trace of -d, from
	// several goroutines: stdout, wrapped so that each write stays whole.
	Stdout io.Writer
	// Errors receives runtime errors and warnings: stderr, or io.Discard
	// with --quiet.
	Errors io.Writer
	// Trace is the packet trace of -d, nil without it.
	Trace *Trace
}

// NewOutput returns the Output for o writing to stdout and stderr, which it
// wraps so that the client's goroutines and the tool's may write to them
// at once.
func (o *Options) NewOutput(stdout, stderr io.Writer) Output {
	out := Output{Stdout: &SyncWriter{W: stdout}, Errors: &SyncWriter{W: stderr}}
	if o.Quiet {
		out.Errors = io.Discard
	}
	if o.Debug {
		// As mosquitto's -d: the packet trace on stdout, among the
		// messages; --quiet leaves out mosquitto_sub's "Subscribed" lines.
		out.Trace = NewTrace(out.Stdout, o.Tool == Sub && !o.Quiet)
	}
	return out
}

// SyncWriter serialises writes to W.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p while holding the lock.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}

// clientID returns the client identifier to use: -i, or -I followed by the
// process ID, or "" for one the client makes up.
func (o *Options) clientID() string {
	if o.IDPrefix != "" {
		return o.IDPrefix + strconv.Itoa(os.Getpid())
	}
	return o.ClientID
}

// BrokerURL returns the URL of the broker the options name.
func (o *Options) BrokerURL() (string, bool) {
	if o.UnixSocket != "" {
		path := o.UnixSocket
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return (&url.URL{Scheme: "unix", Path: path}).String(), false
	}
	port := o.Port
	if port == 0 {
		port = 1883
		if o.CAFile != "" || o.CAPath != "" {
			port = 8883
		}
	}
	// As libmosquitto: TLS with --cafile or --capath, with the system CAs
	// for mqtts:// and wss:// URLs, --tls-use-os-certs, or port 8883.
	useTLS := o.CAFile != "" || o.CAPath != "" || o.TLSUseOSCerts || port == 8883
	u := url.URL{Scheme: "mqtt", Host: net.JoinHostPort(o.Host, strconv.Itoa(port))}
	switch {
	case o.WebSockets && useTLS:
		u.Scheme, u.Path = "wss", "/mqtt"
	case o.WebSockets:
		u.Scheme, u.Path = "ws", "/mqtt"
	case useTLS:
		u.Scheme = "mqtts"
	}
	return u.String(), useTLS
}

// ClientConfig builds the configuration of the client from the options,
// with the checks mosquitto makes when it applies them (mosquitto_new and
// client_opts_set). Its errors are *UsageError without the hint.
func (o *Options) ClientConfig(out Output) (client.Config, error) {
	fail := func(format string, args ...any) (client.Config, error) {
		return client.Config{}, &UsageError{Msg: fmt.Sprintf(format, args...)}
	}
	id := o.clientID()
	// At 5.0 a session kept with -c -x 0 needs an identifier too, which
	// mosquitto finds only here.
	noID := id == "" && (o.hasClientID || (o.Protocol == client.MQTT5 && !o.CleanSession))
	if noID || !utf8.ValidString(id) {
		if o.Tool == Sub {
			return fail("Error: Invalid id and/or clean_session.\n")
		}
		return fail("Error: Invalid id.\n")
	}
	if o.hasPassword && o.Username == "" {
		// MQTT 3.1.1 has no password without a user name (MQTT-3.1.2-22).
		return fail("Error: Problem setting username and/or password.\n")
	}
	broker, useTLS := o.BrokerURL()
	cfg := client.Config{
		Brokers:           []string{broker},
		ClientID:          id,
		Username:          o.Username,
		Password:          o.Password,
		PersistentSession: !o.CleanSession,
		KeepAlive:         time.Duration(o.KeepAlive) * time.Second,
		Protocol:          o.Protocol,
		MaxInflight:       o.MaxInflight,
		Reconnect:         reconnect,
		ConnectRetry:      o.ConnectRetry,
		MaxPacketSize:     o.MaxPacketSize,
	}
	if out.Trace != nil {
		cfg.OnPacket = out.Trace.Packet
	}
	if o.WillTopic != "" {
		cfg.Will = &client.Will{
			Topic:   o.WillTopic,
			Payload: []byte(o.WillPayload),
			QoS:     client.QoS(o.WillQoS),
			Retain:  o.WillRetain,
		}
	}
	if o.Protocol == client.MQTT5 {
		if err := o.apply5(&cfg); err != nil {
			return client.Config{}, err
		}
		if _, ok := o.Properties.Get(CmdPublish, packets.PropTopicAlias); ok {
			cfg.MQTT5.TopicAliases = true
		}
	} else if !o.Properties.Empty() {
		// mosquitto fails to connect with CONNECT or will properties at
		// 3.1.x, and ignores or hangs on the others; all fail here alike.
		return fail("Unable to connect (This feature is not supported.).\n")
	}
	cfg.Transport.Proxy = dial.ProxyDirect // mosquitto ignores ALL_PROXY
	if o.Proxy != "" {
		cfg.Transport.Proxy = o.Proxy
	}
	if o.BindAddress != "" && o.UnixSocket == "" {
		addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(o.BindAddress, "0"))
		if err != nil {
			return fail("Error: Invalid bind address %s: %v.\n", o.BindAddress, err)
		}
		cfg.Transport.NetDialer = &net.Dialer{LocalAddr: addr}
	}
	if useTLS {
		tc, err := o.tlsConfig()
		if err != nil {
			return fail("Error: Problem setting TLS options: %s.\n", err)
		}
		cfg.Transport.TLSConfig = tc
	}
	cfg.OnConnectionLost = func(err error) {
		// Say why the connection dropped on a packet above the limit,
		// which is otherwise seen only with -d.
		if errors.Is(err, packets.ErrTooLarge) {
			fmt.Fprintf(out.Errors, "Warning: %s%s\n", strings.TrimPrefix(err.Error(), "client: "), o.maxSizeHint())
		}
	}
	cfg.OnError = func(err error) {
		hint := ""
		if errors.Is(err, client.ErrMessageTooLarge) {
			hint = o.maxSizeHint()
		}
		fmt.Fprintf(out.Errors, "Warning: %s%s\n", strings.TrimPrefix(err.Error(), "client: "), hint)
	}
	return cfg, nil
}

// maxSizeHint points mqtt-sub's users at the option that raises the limit.
func (o *Options) maxSizeHint() string {
	if o.Tool == Sub {
		return " (see --max-packet-size)"
	}
	return ""
}

// tlsConfig loads the TLS files and applies --ciphers.
func (o *Options) tlsConfig() (*tls.Config, error) {
	files := TLSFiles{
		CAFile:         o.CAFile,
		CAPath:         o.CAPath,
		CertFile:       o.CertFile,
		KeyFile:        o.KeyFile,
		Insecure:       o.Insecure,
		MinVersion:     o.TLSVersion,
		UseSystemRoots: o.TLSUseOSCerts,
	}
	if o.ALPN != "" {
		files.ALPN = []string{o.ALPN}
	}
	tc, err := files.Config()
	if err != nil {
		return nil, err
	}
	if o.Ciphers != "" {
		if tc.CipherSuites, err = CipherSuites(o.Ciphers); err != nil {
			return nil, err
		}
	}
	return tc, nil
}
