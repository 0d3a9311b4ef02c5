package cli

import (
	"time"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// Tool is one of the two commands.
type Tool int

// The commands.
const (
	Pub Tool = iota // mqtt-pub, after mosquitto_pub
	Sub             // mqtt-sub, after mosquitto_sub
)

// String returns the command's name.
func (t Tool) String() string {
	if t == Sub {
		return "mqtt-sub"
	}
	return "mqtt-pub"
}

// mosquittoName is the command t replaces.
func (t Tool) mosquittoName() string {
	if t == Sub {
		return "mosquitto_sub"
	}
	return "mosquitto_pub"
}

// MessageMode is where mqtt-pub takes its message from.
type MessageMode int

// Message modes: -m, -f, -l, -s and -n.
const (
	ModeNone      MessageMode = iota
	ModeMessage               // -m: the argument
	ModeFile                  // -f: the contents of a file
	ModeStdinLine             // -l: one message per line of stdin
	ModeStdinFile             // -s: all of stdin as one message
	ModeNull                  // -n: a zero-length message
)

// Defaults that differ from the zero value, as mosquitto's init_config sets
// them.
const (
	DefaultKeepAlive    = 60
	DefaultMaxInflight  = 20
	DefaultRandomFilter = 10000 // in 1/100 %: print every message
	DefaultHost         = "localhost"
	// PasswordEnv names the environment variable a password may come from,
	// so that it need not appear in the process list.
	PasswordEnv = "MQTT_PASSWORD"
)

// Options are the settings of one run, after the options file and the
// command line. Parse fills them in and checks them.
type Options struct {
	Tool Tool

	// The broker and how to reach it.
	Host         string // -h; DefaultHost unless given
	Port         int    // -p; 0 means 1883, or 8883 with --cafile or --capath
	UnixSocket   string // --unix
	WebSockets   bool   // -L ws:// or wss://
	BindAddress  string // -A
	Proxy        string // --proxy socks5h://...
	KeepAlive    int    // -k, in seconds
	MaxInflight  int    // -M
	Protocol     packets.ProtocolLevel
	ConnectRetry bool // --connect-retry: retry the first connection too
	// SessionExpiry is -x in seconds (math.MaxUint32: never), MQTT 5.0
	// only; with -c and no -x, never.
	SessionExpiry int64
	// Properties are the MQTT 5.0 properties of -D, per packet.
	Properties PropertyList

	// Identity and session.
	ClientID     string // -i
	IDPrefix     string // -I; the client ID is the prefix and the process ID
	CleanSession bool   // false with -c
	Username     string // -u, or from -L
	Password     string // -P, --pw-file, -L or $MQTT_PASSWORD
	PasswordFile string // --pw-file

	// TLS, as mosquitto's options name it.
	CAFile, CAPath, CertFile, KeyFile  string
	Ciphers, TLSVersion, ALPN, KeyForm string
	Insecure, TLSUseOSCerts            bool

	// The will (--will-*).
	WillTopic   string
	WillPayload string
	WillQoS     int
	WillRetain  bool

	QoS   int  // -q
	Debug bool // -d
	Quiet bool // --quiet: no runtime errors on stderr

	// mqtt-pub.
	Topic       string // -t or the topic of -L
	Mode        MessageMode
	Message     string // -m
	File        string // -f
	Retain      bool   // -r
	Repeat      int    // --repeat
	RepeatDelay time.Duration
	Timeout     time.Duration // --timeout; 0: wait as long as it takes

	// mqtt-sub.
	Topics             []string // -t, repeatable
	FilterOuts         []string // -T
	Unsubscribe        []string // -U
	Verbose            bool     // -v
	EOL                bool     // false with -N
	Count              int      // -C; 0: no limit
	WaitTimeout        time.Duration
	ExitAfterSubscribe bool // -E
	NoRetained         bool // -R
	RetainedOnly       bool // --retained-only
	RemoveRetained     bool // --remove-retained
	RandomFilter       int  // --random-filter, in 1/100 %
	RetainAsPublished  bool // --retain-as-published (MQTT 5.0)
	Format             string
	Pretty             bool
	// MaxPacketSize is the largest Remaining Length accepted from the
	// broker (--max-packet-size): packets.MaxRemainingLength unless given,
	// since mosquitto_sub takes any message the protocol allows. Zero, as
	// for mqtt-pub, leaves the client's default.
	MaxPacketSize int

	// Parser state.
	hasWillPayload bool
	hasPassword    bool
	hasClientID    bool
	// sessionExpirySet tells -x (or -c at MQTT 5.0) from no session
	// expiry given.
	sessionExpirySet bool
}

// defaults returns the options before anything was read, as mosquitto's
// init_config.
func defaults(tool Tool) *Options {
	o := &Options{
		Tool:         tool,
		KeepAlive:    DefaultKeepAlive,
		MaxInflight:  DefaultMaxInflight,
		Protocol:     client.MQTT311,
		CleanSession: true,
		EOL:          true,
		Repeat:       1,
		RandomFilter: DefaultRandomFilter,
	}
	if tool == Sub {
		o.MaxPacketSize = packets.MaxRemainingLength
	}
	return o
}
