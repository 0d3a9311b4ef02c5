package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// Parse reads the options file of tool and then args (without the program
// name), and returns the options. getenv looks up XDG_CONFIG_HOME, HOME and
// PasswordEnv; os.Getenv in the commands.
//
// The options file is $XDG_CONFIG_HOME/<tool>, or $HOME/.config/<tool>
// without XDG_CONFIG_HOME: one option per line, a value after the first
// space, lines starting with '#' ignored, as mosquitto reads
// ~/.config/mosquitto_pub. Its options come first, so the command line
// overrides them, except that message modes and -t of mqtt-sub add up.
//
// Errors are *UsageError (print them with ReportParseError), or ErrHelp or
// ErrVersion.
func Parse(tool Tool, args []string, getenv func(string) string) (*Options, error) {
	p := newParser(tool)
	if name := configFile(tool, getenv); name != "" {
		if lines, err := readConfigFile(name); err == nil {
			for _, line := range lines {
				if err := p.parse(line); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := p.parse(args); err != nil {
		return nil, err
	}
	if err := p.finish(getenv); err != nil {
		return nil, err
	}
	return p.o, nil
}

// configFile returns where tool's options file would be, or "".
func configFile(tool Tool, getenv func(string) string) string {
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, tool.String())
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", tool.String())
	}
	return ""
}

// readConfigFile splits an options file into argument lists: the option is
// the first word, and the rest of the line after the following space is its
// value (mosquitto's strtok(line, " ") then strtok(NULL, "")).
func readConfigFile(name string) ([][]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var lines [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r\n")
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimLeft(line, " ")
		if line == "" {
			continue
		}
		opt, value, hasValue := strings.Cut(line, " ")
		if hasValue && value != "" {
			lines = append(lines, []string{opt, value})
		} else {
			lines = append(lines, []string{opt})
		}
	}
	return lines, sc.Err()
}

// parser applies arguments to Options. Its FlagSet holds the options of one
// tool; each flag.Value is an option of the table below.
type parser struct {
	o  *Options
	fs *flag.FlagSet
}

func newParser(tool Tool) *parser {
	p := &parser{o: defaults(tool), fs: flag.NewFlagSet(tool.String(), flag.ContinueOnError)}
	p.fs.SetOutput(io.Discard)
	for _, opt := range optionTable {
		if opt.tools&toolBit(tool) == 0 {
			continue
		}
		for _, name := range opt.names {
			p.fs.Var(optionValue{p, opt}, name, opt.usage)
		}
	}
	return p
}

// parse walks one list of arguments, as mosquitto's client_config_line_proc.
// A short option is written "-x" and a long one "--name" (also
// "--name=value", which mosquitto does not know).
func (p *parser) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, inline := splitOption(arg)
		f := p.fs.Lookup(name)
		if name == "" || f == nil {
			return usageErr("Error: Unknown option '%s'.\n", arg)
		}
		opt := f.Value.(optionValue).opt
		if opt.check != nil {
			if err := opt.check(p.o); err != nil {
				return err
			}
		}
		if opt.takeArgs != nil {
			if inline {
				return usageErr("Error: Unknown option '%s'.\n", arg)
			}
			n, err := opt.takeArgs(p.o, args[i+1:])
			if err != nil {
				return err
			}
			i += n
			continue
		}
		if opt.missing == "" {
			if inline {
				return usageErr("Error: Unknown option '%s'.\n", arg)
			}
			value = "true"
		} else if !inline {
			if i == len(args)-1 {
				return &UsageError{Msg: opt.missing, Hint: true}
			}
			i++
			value = args[i]
		}
		if err := p.fs.Set(name, value); err != nil {
			return err
		}
	}
	return nil
}

// splitOption returns the name of an option argument, "" if arg is not one.
func splitOption(arg string) (name, value string, inline bool) {
	switch {
	case strings.HasPrefix(arg, "--"):
		name, value, inline = strings.Cut(arg[2:], "=")
		if len(name) < 2 {
			return "", "", false
		}
		return name, value, inline
	case len(arg) == 2 && arg[0] == '-' && arg[1] != '-':
		return arg[1:], "", false
	}
	return "", "", false
}

// finish runs the checks mosquitto makes once every option is read
// (the end of client_config_load), and fills in what depends on several
// options.
func (p *parser) finish(getenv func(string) string) error {
	o := p.o
	if o.hasWillPayload && o.WillTopic == "" {
		return usageErr("Error: Will payload given, but no will topic given.\n")
	}
	if o.WillRetain && o.WillTopic == "" {
		return usageErr("Error: Will retain given, but no will topic given.\n")
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return usageErr("Error: Both certfile and keyfile must be provided if one of them is set.\n")
	}
	if o.KeyForm != "" && o.KeyFile == "" {
		return usageErr("Error: If keyform is set, keyfile must be also specified.\n")
	}
	if o.Protocol == client.MQTT5 {
		if !o.CleanSession && !o.sessionExpirySet {
			// -c alone keeps the session for ever.
			o.SessionExpiry, o.sessionExpirySet = math.MaxUint32, true
		}
		if o.SessionExpiry > 0 {
			if o.SessionExpiry == math.MaxUint32 && (o.IDPrefix != "" || !o.hasClientID) {
				return usageErr("Error: You must provide a client id if you are using an infinite session expiry interval.\n")
			}
			// mosquitto adds -x to the CONNECT properties, so that -D
			// connect session-expiry-interval as well is a duplicate.
			o.Properties[CmdConnect] = append(o.Properties[CmdConnect], Property{
				Name: "session-expiry-interval", ID: packets.PropSessionExpiryInterval, Int: uint32(o.SessionExpiry), typ: typeInt32})
		}
	} else if !o.CleanSession && (o.IDPrefix != "" || !o.hasClientID) {
		return usageErr("Error: You must provide a client id if you are using the -c option.\n")
	}
	if o.Tool == Sub && len(o.Topics) == 0 {
		return usageErr("Error: You must specify a topic to subscribe to.\n")
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if err := o.Properties.checkProperties(); err != nil {
		return err
	}
	if o.Tool == Sub && o.NoRetained && o.RetainedOnly {
		return &UsageError{Msg: "\nError: Combining '-R' and '--retained-only' makes no sense.\n"}
	}
	if o.PasswordFile != "" {
		pw, err := readPasswordFile(o.PasswordFile)
		if err != nil {
			return &UsageError{Msg: "Error: --pw-file: " + err.Error() + "\n"}
		}
		o.Password, o.hasPassword = pw, true
	}
	if !o.hasPassword && o.Username != "" {
		if pw := getenv(PasswordEnv); pw != "" {
			o.Password, o.hasPassword = pw, true
		}
	}
	return nil
}

// readPasswordFile returns the first line of a file, without its line end.
func readPasswordFile(name string) (string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return string(bytes.TrimSuffix(line, []byte("\r"))), nil
}

// toolSet says which tools know an option.
type toolSet uint8

const (
	forPub toolSet = 1 << iota
	forSub
	forBoth = forPub | forSub
)

func toolBit(t Tool) toolSet {
	if t == Sub {
		return forSub
	}
	return forPub
}

// option is one entry of the option table.
type option struct {
	names []string // without dashes: one letter for "-x", longer for "--name"
	tools toolSet
	usage string
	// missing is the message when the value is missing; "" marks a switch,
	// which takes no value.
	missing string
	// check runs before the value is looked for, for the errors mosquitto
	// reports even when the value is missing.
	check func(o *Options) error
	set   func(o *Options, v string) error
	// takeArgs, when set, reads the option's values itself from the
	// arguments that follow and returns how many it took (-D takes three
	// or four).
	takeArgs func(o *Options, rest []string) (int, error)
}

// optionValue adapts an option to flag.Value.
type optionValue struct {
	p   *parser
	opt *option
}

func (v optionValue) String() string     { return "" }
func (v optionValue) Set(s string) error { return v.opt.set(v.p.o, s) }
func (v optionValue) IsBoolFlag() bool   { return v.opt.missing == "" }

func missingArg(what string) string {
	return "Error: " + what + " specified.\n\n"
}

func oneMessageMode(o *Options) error {
	if o.Mode != ModeNone {
		return usageErr("Error: Only one type of message can be sent at once.\n\n")
	}
	return nil
}

func setMode(m MessageMode) func(*Options, string) error {
	return func(o *Options, _ string) error { o.Mode = m; return nil }
}

// unsupported refuses an option that needs what Go's crypto/tls lacks.
func unsupported(msg string) func(*Options, string) error {
	return func(*Options, string) error { return usageErr("Error: %s\n", msg) }
}

const (
	pskUnsupported    = "TLS-PSK (--psk, --psk-identity) is not supported: Go's crypto/tls does not implement it."
	engineUnsupported = "OpenSSL engines (--tls-engine, --keyform engine, --tls-engine-kpass-sha1) are not supported."
)

// optionTable lists every option of both tools, in mosquitto's order.
var optionTable = []*option{
	{names: []string{"A"}, tools: forBoth, usage: "bind address",
		missing: missingArg("-A argument given but no address"),
		set:     func(o *Options, v string) error { o.BindAddress = v; return nil }},
	{names: []string{"cafile"}, tools: forBoth, usage: "CA certificates file",
		missing: missingArg("--cafile argument given but no file"),
		set:     func(o *Options, v string) error { o.CAFile = v; return nil }},
	{names: []string{"capath"}, tools: forBoth, usage: "CA certificates directory",
		missing: missingArg("--capath argument given but no directory"),
		set:     func(o *Options, v string) error { o.CAPath = v; return nil }},
	{names: []string{"cert"}, tools: forBoth, usage: "client certificate",
		missing: missingArg("--cert argument given but no file"),
		set:     func(o *Options, v string) error { o.CertFile = v; return nil }},
	{names: []string{"ciphers"}, tools: forBoth, usage: "TLS 1.2 cipher suites",
		missing: missingArg("--ciphers argument given but no ciphers"),
		set:     func(o *Options, v string) error { o.Ciphers = v; return nil }},
	{names: []string{"C"}, tools: forSub, usage: "message count",
		missing: missingArg("-C argument given but no count"),
		set: func(o *Options, v string) error {
			if o.Count = atoi(v); o.Count < 1 {
				return usageErr("Error: Invalid message count \"%d\".\n\n", o.Count)
			}
			return nil
		}},
	{names: []string{"c", "disable-clean-session"}, tools: forBoth, usage: "persistent session",
		set: func(o *Options, _ string) error { o.CleanSession = false; return nil }},
	{names: []string{"connect-retry"}, tools: forBoth, usage: "retry the first connection",
		set: func(o *Options, _ string) error { o.ConnectRetry = true; return nil }},
	{names: []string{"d", "debug"}, tools: forBoth, usage: "debug output",
		set: func(o *Options, _ string) error { o.Debug = true; return nil }},
	{names: []string{"D", "property"}, tools: forBoth, usage: "MQTT 5 property",
		missing: "Error: --property argument given but not enough arguments specified.\n\n", takeArgs: parseProperty},
	{names: []string{"E"}, tools: forSub, usage: "exit after subscribing",
		set: func(o *Options, _ string) error { o.ExitAfterSubscribe = true; return nil }},
	{names: []string{"f", "file"}, tools: forPub, usage: "message file",
		check:   oneMessageMode,
		missing: missingArg("-f argument given but no file"),
		set:     func(o *Options, v string) error { o.Mode, o.File = ModeFile, v; return nil }},
	{names: []string{"F"}, tools: forSub, usage: "output format",
		missing: missingArg("-F argument given but no format"),
		set: func(o *Options, v string) error {
			if err := CheckFormat(v); err != nil {
				return err
			}
			o.Format = v
			return nil
		}},
	{names: []string{"help"}, tools: forBoth, usage: "usage",
		set: func(*Options, string) error { return ErrHelp }},
	{names: []string{"h", "host"}, tools: forBoth, usage: "broker host",
		missing: missingArg("-h argument given but no host"),
		set:     func(o *Options, v string) error { o.Host, o.UnixSocket = v, ""; return nil }},
	{names: []string{"insecure"}, tools: forBoth, usage: "skip the host name check",
		set: func(o *Options, _ string) error { o.Insecure = true; return nil }},
	{names: []string{"i", "id"}, tools: forBoth, usage: "client ID",
		check: func(o *Options) error {
			if o.IDPrefix != "" {
				return usageErr("Error: -i and -I argument cannot be used together.\n\n")
			}
			return nil
		},
		missing: missingArg("-i argument given but no id"),
		set:     func(o *Options, v string) error { o.ClientID, o.hasClientID = v, true; return nil }},
	{names: []string{"I", "id-prefix"}, tools: forBoth, usage: "client ID prefix",
		check: func(o *Options) error {
			if o.hasClientID {
				return usageErr("Error: -i and -I argument cannot be used together.\n\n")
			}
			return nil
		},
		missing: missingArg("-I argument given but no id prefix"),
		set:     func(o *Options, v string) error { o.IDPrefix = v; return nil }},
	{names: []string{"k", "keepalive"}, tools: forBoth, usage: "keepalive seconds",
		missing: missingArg("-k argument given but no keepalive"),
		set: func(o *Options, v string) error {
			if o.KeepAlive = atoi(v); o.KeepAlive < 5 || o.KeepAlive > 65535 {
				return usageErr("Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n")
			}
			return nil
		}},
	{names: []string{"key"}, tools: forBoth, usage: "client key",
		missing: missingArg("--key argument given but no file"),
		set:     func(o *Options, v string) error { o.KeyFile = v; return nil }},
	{names: []string{"keyform"}, tools: forBoth, usage: "key form",
		missing: missingArg("--keyform argument given but no keyform"),
		set: func(o *Options, v string) error {
			switch v {
			case "pem":
				o.KeyForm = v
				return nil
			case "engine":
				return usageErr("Error: %s\n", engineUnsupported)
			}
			// mosquitto rejects it when it sets the TLS options.
			return &UsageError{Msg: "Error: Problem setting key form, it must be one of 'pem' or 'engine'.\n"}
		}},
	{names: []string{"L", "url"}, tools: forBoth, usage: "broker URL with topic",
		missing: missingArg("-L argument given but no URL"),
		set:     parseURLOption},
	{names: []string{"l", "stdin-line"}, tools: forPub, usage: "one message per line of stdin",
		check: oneMessageMode, set: setMode(ModeStdinLine)},
	{names: []string{"m", "message"}, tools: forPub, usage: "message",
		check:   oneMessageMode,
		missing: missingArg("-m argument given but no message"),
		set: func(o *Options, v string) error {
			if len(v) > packets.MaxRemainingLength {
				return usageErr("Error: Message length must be less than %d bytes.\n\n", packets.MaxRemainingLength)
			}
			o.Mode, o.Message = ModeMessage, v
			return nil
		}},
	{names: []string{"M"}, tools: forBoth, usage: "max inflight",
		missing: missingArg("-M argument given but max_inflight not"),
		set: func(o *Options, v string) error {
			if o.MaxInflight = atoi(v); o.MaxInflight < 1 {
				return usageErr("Error: Maximum inflight messages must be greater than 0.\n\n")
			}
			if o.MaxInflight > 65535 {
				o.MaxInflight = 65535 // there are no more packet identifiers
			}
			return nil
		}},
	{names: []string{"max-packet-size"}, tools: forSub, usage: "largest packet to accept, in bytes",
		missing: missingArg("--max-packet-size argument given but no size"),
		set: func(o *Options, v string) error {
			// Not a mosquitto option: mosquitto_sub has no limit of its own.
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > packets.MaxRemainingLength {
				return usageErr("Error: --max-packet-size must be a number of bytes from 1 to %d.\n\n", packets.MaxRemainingLength)
			}
			o.MaxPacketSize = n
			return nil
		}},
	{names: []string{"nodelay"}, tools: forBoth, usage: "TCP_NODELAY (always on in Go)",
		set: func(*Options, string) error { return nil }},
	{names: []string{"n", "null-message"}, tools: forPub, usage: "zero-length message",
		check: oneMessageMode, set: setMode(ModeNull)},
	{names: []string{"N"}, tools: forSub, usage: "no end of line",
		set: func(o *Options, _ string) error { o.EOL = false; return nil }},
	{names: []string{"p", "port"}, tools: forBoth, usage: "broker port",
		missing: missingArg("-p argument given but no port"),
		set: func(o *Options, v string) error {
			if o.Port = atoi(v); o.Port < 1 || o.Port > 65535 {
				return usageErr("Error: Invalid port given: %d\n", o.Port)
			}
			return nil
		}},
	{names: []string{"pretty"}, tools: forSub, usage: "pretty JSON",
		set: func(o *Options, _ string) error { o.Pretty = true; return nil }},
	{names: []string{"P", "pw"}, tools: forBoth, usage: "password",
		missing: missingArg("-P argument given but no password"),
		set: func(o *Options, v string) error {
			o.Password, o.hasPassword, o.PasswordFile = v, true, ""
			return nil
		}},
	{names: []string{"pw-file"}, tools: forBoth, usage: "file holding the password",
		missing: missingArg("--pw-file argument given but no file"),
		set: func(o *Options, v string) error {
			o.PasswordFile, o.Password, o.hasPassword = v, "", false
			return nil
		}},
	{names: []string{"proxy"}, tools: forBoth, usage: "SOCKS5 proxy",
		missing: missingArg("--proxy argument given but no proxy url"),
		set:     parseProxyOption},
	{names: []string{"psk"}, tools: forBoth, usage: "TLS-PSK key",
		missing: missingArg("--psk argument given but no key"),
		set:     unsupported(pskUnsupported)},
	{names: []string{"psk-identity"}, tools: forBoth, usage: "TLS-PSK identity",
		missing: missingArg("--psk-identity argument given but no identity"),
		set:     unsupported(pskUnsupported)},
	{names: []string{"q", "qos"}, tools: forBoth, usage: "QoS",
		missing: missingArg("-q argument given but no QoS"),
		set: func(o *Options, v string) error {
			if o.QoS = atoi(v); o.QoS < 0 || o.QoS > 2 {
				return usageErr("Error: Invalid QoS given: %d\n", o.QoS)
			}
			return nil
		}},
	{names: []string{"quiet"}, tools: forBoth, usage: "no error messages",
		set: func(o *Options, _ string) error { o.Quiet = true; return nil }},
	{names: []string{"r", "retain"}, tools: forPub, usage: "retain the message",
		set: func(o *Options, _ string) error { o.Retain = true; return nil }},
	{names: []string{"R"}, tools: forSub, usage: "skip retained messages",
		set: func(o *Options, _ string) error { o.NoRetained = true; return nil }},
	{names: []string{"random-filter"}, tools: forSub, usage: "print a share of the messages",
		missing: missingArg("--random-filter argument given but no chance"),
		set: func(o *Options, v string) error {
			// mosquitto_sub 2.0 scales the percentage by 10 instead of 100,
			// so that 100 prints a tenth of the messages and values up to
			// 1000 are accepted; this follows its documentation instead.
			if o.RandomFilter = int(100 * atof(v)); o.RandomFilter > 10000 || o.RandomFilter < 10 {
				return usageErr("Error: --random-filter chance must be between 0.1-100.0\n\n")
			}
			return nil
		}},
	{names: []string{"remove-retained"}, tools: forSub, usage: "clear retained messages",
		set: func(o *Options, _ string) error { o.RemoveRetained = true; return nil }},
	{names: []string{"repeat"}, tools: forPub, usage: "publish N times",
		missing: missingArg("--repeat argument given but no count"),
		set: func(o *Options, v string) error {
			if o.Repeat = atoi(v); o.Repeat < 1 {
				return usageErr("Error: --repeat argument must be >0.\n\n")
			}
			return nil
		}},
	{names: []string{"repeat-delay"}, tools: forPub, usage: "seconds between repeats",
		missing: missingArg("--repeat-delay argument given but no time"),
		set: func(o *Options, v string) error {
			f := atof(v)
			if f < 0 {
				return usageErr("Error: --repeat-delay argument must be >=0.0.\n\n")
			}
			o.RepeatDelay = time.Duration(f * float64(time.Second))
			return nil
		}},
	{names: []string{"retain-as-published"}, tools: forSub, usage: "keep the publisher's retain flag (MQTT 5)",
		set: func(o *Options, _ string) error { o.RetainAsPublished = true; return nil }},
	{names: []string{"retained-only"}, tools: forSub, usage: "only retained messages",
		set: func(o *Options, _ string) error { o.RetainedOnly = true; return nil }},
	{names: []string{"s", "stdin-file"}, tools: forPub, usage: "all of stdin as the message",
		check: oneMessageMode, set: setMode(ModeStdinFile)},
	{names: []string{"t", "topic"}, tools: forBoth, usage: "topic",
		missing: missingArg("-t argument given but no topic"),
		set:     func(o *Options, v string) error { return addTopic(o, v, "-t") }},
	{names: []string{"T", "filter-out"}, tools: forSub, usage: "topic filter to hide",
		missing: missingArg("-T argument given but no topic filter"),
		set: func(o *Options, v string) error {
			if err := checkFilter(v, "-T", "filter"); err != nil {
				return err
			}
			o.FilterOuts = append(o.FilterOuts, v)
			return nil
		}},
	{names: []string{"timeout"}, tools: forPub, usage: "give up after this many seconds",
		missing: missingArg("--timeout argument given but no time"),
		set: func(o *Options, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				return usageErr("Error: --timeout must be a number of seconds greater than 0.\n\n")
			}
			o.Timeout = time.Duration(f * float64(time.Second))
			return nil
		}},
	{names: []string{"tls-alpn"}, tools: forBoth, usage: "ALPN protocol",
		missing: missingArg("--tls-alpn argument given but no protocol"),
		set:     func(o *Options, v string) error { o.ALPN = v; return nil }},
	{names: []string{"tls-engine"}, tools: forBoth, usage: "OpenSSL engine",
		missing: missingArg("--tls-engine argument given but no engine_id"),
		set:     unsupported(engineUnsupported)},
	{names: []string{"tls-engine-kpass-sha1"}, tools: forBoth, usage: "OpenSSL engine key password",
		missing: missingArg("--tls-engine-kpass-sha1 argument given but no kpass sha1"),
		set:     unsupported(engineUnsupported)},
	{names: []string{"tls-use-os-certs"}, tools: forBoth, usage: "trust the system CAs",
		set: func(o *Options, _ string) error { o.TLSUseOSCerts = true; return nil }},
	{names: []string{"tls-version"}, tools: forBoth, usage: "lowest TLS version",
		missing: missingArg("--tls-version argument given but no version"),
		set:     func(o *Options, v string) error { o.TLSVersion = v; return nil }},
	{names: []string{"U", "unsubscribe"}, tools: forSub, usage: "topic to unsubscribe",
		missing: missingArg("-U argument given but no unsubscribe topic"),
		set: func(o *Options, v string) error {
			if err := checkFilter(v, "-U", "unsubscribe"); err != nil {
				return err
			}
			o.Unsubscribe = append(o.Unsubscribe, v)
			return nil
		}},
	{names: []string{"u", "username"}, tools: forBoth, usage: "user name",
		missing: missingArg("-u argument given but no username"),
		set:     func(o *Options, v string) error { o.Username = v; return nil }},
	{names: []string{"unix"}, tools: forBoth, usage: "unix socket",
		missing: missingArg("--unix argument given but no socket path"),
		set:     func(o *Options, v string) error { o.UnixSocket = v; return nil }},
	{names: []string{"V", "protocol-version"}, tools: forBoth, usage: "MQTT version",
		missing: missingArg("--protocol-version argument given but no version"),
		set: func(o *Options, v string) error {
			switch v {
			case "mqttv31", "31":
				o.Protocol = client.MQTT31
			case "mqttv311", "311":
				o.Protocol = client.MQTT311
			case "mqttv5", "5":
				o.Protocol = client.MQTT5
			default:
				return usageErr("Error: Invalid protocol version argument given.\n\n")
			}
			return nil
		}},
	{names: []string{"v", "verbose"}, tools: forSub, usage: "print topics",
		set: func(o *Options, _ string) error { o.Verbose = true; return nil }},
	{names: []string{"version"}, tools: forBoth, usage: "version",
		set: func(*Options, string) error { return ErrVersion }},
	{names: []string{"W"}, tools: forSub, usage: "timeout seconds",
		missing: missingArg("-W argument given but no timeout"),
		set: func(o *Options, v string) error {
			n := atoi(v)
			if n < 1 {
				return usageErr("Error: Invalid timeout \"%d\".\n\n", n)
			}
			o.WaitTimeout = time.Duration(n) * time.Second
			return nil
		}},
	{names: []string{"will-payload"}, tools: forBoth, usage: "will payload",
		missing: missingArg("--will-payload argument given but no will payload"),
		set: func(o *Options, v string) error {
			o.WillPayload, o.hasWillPayload = v, true
			return nil
		}},
	{names: []string{"will-qos"}, tools: forBoth, usage: "will QoS",
		missing: missingArg("--will-qos argument given but no will QoS"),
		set: func(o *Options, v string) error {
			if o.WillQoS = atoi(v); o.WillQoS < 0 || o.WillQoS > 2 {
				return usageErr("Error: Invalid will QoS %d.\n\n", o.WillQoS)
			}
			return nil
		}},
	{names: []string{"will-retain"}, tools: forBoth, usage: "retain the will",
		set: func(o *Options, _ string) error { o.WillRetain = true; return nil }},
	{names: []string{"will-topic"}, tools: forBoth, usage: "will topic",
		missing: missingArg("--will-topic argument given but no will topic"),
		set: func(o *Options, v string) error {
			if err := checkTopicName(v, "--will-topic", "will"); err != nil {
				return err
			}
			o.WillTopic = v
			return nil
		}},
	{names: []string{"x"}, tools: forBoth, usage: "MQTT 5 session expiry interval",
		missing: missingArg("-x argument given but no session expiry interval"),
		set:     parseSessionExpiry},
}

// addTopic is mosquitto's cfg_add_topic: the topic of mqtt-pub, or one more
// subscription of mqtt-sub. arg names the option in messages.
func addTopic(o *Options, topic, arg string) error {
	if o.Tool == Pub {
		if err := checkTopicName(topic, arg, "publish"); err != nil {
			return err
		}
		o.Topic = topic
		return nil
	}
	if err := checkFilter(topic, arg, "subscription"); err != nil {
		return err
	}
	o.Topics = append(o.Topics, topic)
	return nil
}

// checkTopicName checks a topic to publish to. Unlike mosquitto it refuses
// the empty topic at once: mosquitto_pub reports it only when publishing,
// and then exits 0.
func checkTopicName(topic, arg, what string) error {
	if !utf8.ValidString(topic) {
		return usageErr("Error: Malformed UTF-8 in %s argument.\n\n", arg)
	}
	if packets.ValidateTopicName(topic) != nil {
		return usageErr("Error: Invalid %s topic '%s', does it contain '+' or '#'?\n", what, topic)
	}
	return nil
}

// checkFilter checks a topic filter (-t of mqtt-sub, -T, -U).
func checkFilter(filter, arg, what string) error {
	if !utf8.ValidString(filter) {
		return usageErr("Error: Malformed UTF-8 in %s argument.\n\n", arg)
	}
	if packets.ValidateTopicFilter(filter) != nil {
		return usageErr("Error: Invalid %s topic '%s', are all '+' and '#' wildcards correct?\n", what, filter)
	}
	return nil
}

// parseURLOption reads -L mqtt(s)://[user[:password]@]host[:port]/topic, or
// ws:// and wss://, as mosquitto does: nothing is percent-decoded, and the
// default port is 1883 (8883 with TLS) whatever the scheme.
func parseURLOption(o *Options, v string) error {
	rest := v
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lower, "mqtt://"):
		rest, o.Port, o.WebSockets = v[len("mqtt://"):], 1883, false
	case strings.HasPrefix(lower, "mqtts://"):
		rest, o.Port, o.WebSockets, o.TLSUseOSCerts = v[len("mqtts://"):], 8883, false, true
	case strings.HasPrefix(lower, "ws://"):
		rest, o.Port, o.WebSockets = v[len("ws://"):], 1883, true
	case strings.HasPrefix(lower, "wss://"):
		rest, o.Port, o.WebSockets, o.TLSUseOSCerts = v[len("wss://"):], 8883, true, true
	default:
		return usageErr("Error: unsupported URL scheme.\n\n")
	}
	hostPart, topic, ok := strings.Cut(rest, "/")
	if !ok {
		return usageErr("Error: Invalid URL for -L argument specified - topic missing.\n")
	}
	if err := addTopic(o, topic, "-L topic"); err != nil {
		return err
	}
	if userinfo, host, ok := strings.Cut(hostPart, "@"); ok {
		user, pw, hasPW := strings.Cut(userinfo, ":")
		if hasPW {
			o.Password, o.hasPassword, o.PasswordFile = pw, true, ""
		}
		o.Username = user
		hostPart = host
	}
	host, port := hostPart, ""
	if strings.HasPrefix(host, "[") {
		// An IPv6 literal, which mosquitto cannot parse here.
		if end := strings.IndexByte(host, ']'); end > 0 {
			host, port = host[1:end], strings.TrimPrefix(host[end+1:], ":")
		}
	} else if h, p, ok := strings.Cut(host, ":"); ok {
		host, port = h, p
	}
	o.Host, o.UnixSocket = host, ""
	if port != "" {
		if o.Port = atoi(port); o.Port < 1 || o.Port > 65535 {
			return usageErr("Error: Invalid port given: %d\n", o.Port)
		}
	}
	return nil
}

// parseProxyOption checks --proxy socks5h://[user[:password]@]host[:port]
// as mosquitto does, without echoing credentials.
func parseProxyOption(o *Options, v string) error {
	if !strings.HasPrefix(v, "socks5h://") {
		return usageErr("Error: Unsupported proxy protocol: %s\n", redactUserinfo(v))
	}
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return usageErr("Error: Invalid proxy.\n")
	}
	if p := u.Port(); p != "" {
		if n := atoi(p); n < 1 || n > 65535 {
			return usageErr("Error: Invalid proxy port %d\n", n)
		}
	}
	o.Proxy = v
	return nil
}

// redactUserinfo hides what may be credentials in a URL that is echoed.
func redactUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		return scheme + "://xxxxx" + rest[i:]
	}
	return s
}

// parseSessionExpiry validates -x as mosquitto does: seconds, or -1,
// 4294967295 or ∞ for a session that never expires. The interval is an
// MQTT 5.0 property, so with MQTT 3.1.1 it has no effect, in mosquitto as
// here.
func parseSessionExpiry(o *Options, v string) error {
	if v == "∞" {
		o.SessionExpiry, o.sessionExpirySet = math.MaxUint32, true
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && (n > math.MaxUint32 || n < -1):
		return usageErr("Error: session-expiry-interval out of range.\n\n")
	case err != nil:
		return usageErr("Error: session-expiry-interval not a number.\n\n")
	}
	if n == -1 {
		n = math.MaxUint32
	}
	o.SessionExpiry, o.sessionExpirySet = n, true
	return nil
}

// atoi is C's atoi: leading blanks, an optional sign and the digits that
// follow; anything else ends the number, and no digits mean 0. mosquitto
// reads its numeric options with it, so "-q 1x" is QoS 1 there and here.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := int64(0)
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
		if n > math.MaxInt32+1 {
			n = math.MaxInt32 + 1
		}
	}
	if neg {
		n = -n
	}
	return int(max(min(n, math.MaxInt32), math.MinInt32))
}

// atof is C's atof for decimal numbers: the longest prefix that is a
// number, 0 if there is none.
func atof(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	f, _ := strconv.ParseFloat(s[:floatPrefix(s)], 64)
	return f
}

// floatPrefix returns the length of the longest prefix of s that strtod
// reads as a decimal number: [+-] digits [. digits] [e [+-] digits], with at
// least one digit before the exponent.
func floatPrefix(s string) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j, digits = j+1, digits+1
		}
		i = j
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i
}
