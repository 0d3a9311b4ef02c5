package cli

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// env is a getenv over a map, so that no test reads the real options file.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var noEnv = env(nil)

// TestParseOptions checks the options that valid command lines produce.
// The errors, and the comparison of each with mosquitto's, are tested in
// cmd/mqtt-pub and cmd/mqtt-sub.
func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tool  Tool
		args  []string
		check func(t *testing.T, o *Options)
	}{
		{"defaults", Pub, []string{"-t", "a", "-m", "x"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "localhost", o.Host)
			assert.Zero(t, o.Port)
			assert.Equal(t, 60, o.KeepAlive)
			assert.Equal(t, 20, o.MaxInflight)
			assert.Equal(t, client.MQTT311, o.Protocol)
			assert.True(t, o.CleanSession)
			assert.Equal(t, 1, o.Repeat)
			assert.Equal(t, ModeMessage, o.Mode)
			assert.Equal(t, "a", o.Topic)
			assert.Equal(t, "x", o.Message)
			assert.Zero(t, o.MaxPacketSize, "mqtt-pub: the client's default")
		}},
		{"mqtt-sub takes any packet the protocol allows", Sub, []string{"-t", "a"}, func(t *testing.T, o *Options) {
			assert.Equal(t, packets.MaxRemainingLength, o.MaxPacketSize)
		}},
		{"--max-packet-size", Sub, []string{"-t", "a", "--max-packet-size", "1048576"}, func(t *testing.T, o *Options) {
			assert.Equal(t, 1<<20, o.MaxPacketSize)
		}},
		{"--max-packet-size at the protocol's limit", Sub, []string{"-t", "a", "--max-packet-size=268435455"}, func(t *testing.T, o *Options) {
			assert.Equal(t, packets.MaxRemainingLength, o.MaxPacketSize)
		}},
		{"long names", Pub, []string{"--topic", "a", "--message", "x", "--qos", "2", "--retain", "--host", "h", "--port", "1884",
			"--keepalive", "30", "--id", "me", "--disable-clean-session", "--username", "u", "--pw", "p", "--protocol-version", "mqttv31", "--debug", "--quiet"},
			func(t *testing.T, o *Options) {
				assert.Equal(t, 2, o.QoS)
				assert.True(t, o.Retain)
				assert.Equal(t, "h", o.Host)
				assert.Equal(t, 1884, o.Port)
				assert.Equal(t, 30, o.KeepAlive)
				assert.Equal(t, "me", o.ClientID)
				assert.False(t, o.CleanSession)
				assert.Equal(t, "u", o.Username)
				assert.Equal(t, "p", o.Password)
				assert.Equal(t, client.MQTT31, o.Protocol)
				assert.True(t, o.Debug)
				assert.True(t, o.Quiet)
			}},
		{"--name=value", Pub, []string{"--topic=a/b", "--message=x=y"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "a/b", o.Topic)
			assert.Equal(t, "x=y", o.Message)
		}},
		{"values that look like options", Pub, []string{"-t", "-m", "-m", "-t"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "-m", o.Topic)
			assert.Equal(t, "-t", o.Message)
		}},
		{"numbers read as C's atoi", Pub, []string{"-t", "a", "-n", "-q", "1x", "-k", " 30s", "-M", "+7"}, func(t *testing.T, o *Options) {
			assert.Equal(t, 1, o.QoS)
			assert.Equal(t, 30, o.KeepAlive)
			assert.Equal(t, 7, o.MaxInflight)
			assert.Equal(t, ModeNull, o.Mode)
		}},
		{"repeat", Pub, []string{"-t", "a", "-s", "--repeat", "3", "--repeat-delay", "0.25", "--timeout", "1.5"}, func(t *testing.T, o *Options) {
			assert.Equal(t, 3, o.Repeat)
			assert.Equal(t, 250*time.Millisecond, o.RepeatDelay)
			assert.Equal(t, 1500*time.Millisecond, o.Timeout)
			assert.Equal(t, ModeStdinFile, o.Mode)
		}},
		{"-L mqtt", Pub, []string{"-L", "mqtt://alice:pa:ss@broker:1884/a/b", "-l"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "broker", o.Host)
			assert.Equal(t, 1884, o.Port)
			assert.Equal(t, "alice", o.Username)
			assert.Equal(t, "pa:ss", o.Password)
			assert.Equal(t, "a/b", o.Topic)
			assert.False(t, o.WebSockets)
			assert.False(t, o.TLSUseOSCerts)
		}},
		{"-L wss with IPv6", Sub, []string{"-L", "WSS://[::1]/a/#", "-t", "b"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "::1", o.Host)
			assert.Equal(t, 8883, o.Port)
			assert.True(t, o.WebSockets)
			assert.True(t, o.TLSUseOSCerts)
			assert.Equal(t, []string{"a/#", "b"}, o.Topics)
		}},
		{"-p after -L wins", Pub, []string{"-L", "mqtt://h/t", "-p", "2000", "-n"}, func(t *testing.T, o *Options) {
			assert.Equal(t, 2000, o.Port)
		}},
		{"-L after -t wins for mqtt-pub", Pub, []string{"-t", "first", "-L", "mqtt://h/second", "-n"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "second", o.Topic)
		}},
		{"--unix, then -h", Pub, []string{"--unix", "/tmp/s", "-h", "h", "-t", "a", "-n"}, func(t *testing.T, o *Options) {
			assert.Empty(t, o.UnixSocket)
			assert.Equal(t, "h", o.Host)
		}},
		{"sub options", Sub, []string{"-t", "a/+", "-t", "b/#", "-T", "a/x", "-U", "c", "-v", "-N", "-C", "5", "-W", "7", "-E", "-R",
			"--remove-retained", "--random-filter", "50.5", "-F", "%t %p", "--pretty", "-x", "60", "--retain-as-published", "--nodelay"},
			func(t *testing.T, o *Options) {
				assert.Equal(t, []string{"a/+", "b/#"}, o.Topics)
				assert.Equal(t, []string{"a/x"}, o.FilterOuts)
				assert.Equal(t, []string{"c"}, o.Unsubscribe)
				assert.True(t, o.Verbose)
				assert.False(t, o.EOL)
				assert.Equal(t, 5, o.Count)
				assert.Equal(t, 7*time.Second, o.WaitTimeout)
				assert.True(t, o.ExitAfterSubscribe)
				assert.True(t, o.NoRetained)
				assert.True(t, o.RemoveRetained)
				assert.Equal(t, 5050, o.RandomFilter)
				assert.Equal(t, "%t %p", o.Format)
				assert.True(t, o.Pretty)
				assert.EqualValues(t, 60, o.SessionExpiry)
			}},
		{"will", Pub, []string{"-t", "a", "-n", "--will-topic", "w", "--will-payload", "gone", "--will-qos", "1", "--will-retain"},
			func(t *testing.T, o *Options) {
				assert.Equal(t, "w", o.WillTopic)
				assert.Equal(t, "gone", o.WillPayload)
				assert.Equal(t, 1, o.WillQoS)
				assert.True(t, o.WillRetain)
			}},
		{"TLS", Pub, []string{"-t", "a", "-n", "--cafile", "ca.pem", "--capath", "d", "--cert", "c.pem", "--key", "k.pem", "--keyform", "pem",
			"--insecure", "--tls-version", "tlsv1.3", "--tls-alpn", "mqtt", "--tls-use-os-certs", "--ciphers", "AES128-SHA"},
			func(t *testing.T, o *Options) {
				assert.Equal(t, "ca.pem", o.CAFile)
				assert.Equal(t, "d", o.CAPath)
				assert.Equal(t, "c.pem", o.CertFile)
				assert.Equal(t, "k.pem", o.KeyFile)
				assert.True(t, o.Insecure)
				assert.Equal(t, "tlsv1.3", o.TLSVersion)
				assert.Equal(t, "mqtt", o.ALPN)
				assert.True(t, o.TLSUseOSCerts)
				assert.Equal(t, "AES128-SHA", o.Ciphers)
			}},
		{"proxy", Sub, []string{"-t", "a", "--proxy", "socks5h://u:p@proxy:1081"}, func(t *testing.T, o *Options) {
			assert.Equal(t, "socks5h://u:p@proxy:1081", o.Proxy)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse(tc.tool, tc.args, noEnv)
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

// TestParseErrors checks errors that mosquitto does not have, or words
// differently on purpose; the others are compared with mosquitto's in the
// cmd packages.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		tool Tool
		args []string
		want string
	}{
		{Pub, []string{"--psk", "00"}, "Error: " + pskUnsupported + "\n"},
		{Sub, []string{"--tls-engine", "tpm"}, "Error: " + engineUnsupported + "\n"},
		{Pub, []string{"-t", ""}, "Error: Invalid publish topic '', does it contain '+' or '#'?\n"},
		{Pub, []string{"--timeout", "0"}, "Error: --timeout must be a number of seconds greater than 0.\n\n"},
		{Pub, []string{"--timeout"}, "Error: --timeout argument given but no time specified.\n\n"},
		{Pub, []string{"-p", "abc"}, "Error: Invalid port given: 0\n"},
		{Pub, []string{"--retain=yes"}, "Error: Unknown option '--retain=yes'.\n"},
		{Pub, []string{"-topic", "a"}, "Error: Unknown option '-topic'.\n"},
		{Pub, []string{"--t", "a"}, "Error: Unknown option '--t'.\n"},
		{Pub, []string{"--proxy", "socks5://u:secret@h"}, "Error: Unsupported proxy protocol: socks5://xxxxx@h\n"},
		{Sub, []string{"--random-filter", "100.1"}, "Error: --random-filter chance must be between 0.1-100.0\n\n"},
		{Sub, []string{"--random-filter", "1000"}, "Error: --random-filter chance must be between 0.1-100.0\n\n"},
		{Sub, []string{"--max-packet-size"}, "Error: --max-packet-size argument given but no size specified.\n\n"},
		{Sub, []string{"--max-packet-size", "0"}, "Error: --max-packet-size must be a number of bytes from 1 to 268435455.\n\n"},
		{Sub, []string{"--max-packet-size", "268435456"}, "Error: --max-packet-size must be a number of bytes from 1 to 268435455.\n\n"},
		{Sub, []string{"--max-packet-size", "1M"}, "Error: --max-packet-size must be a number of bytes from 1 to 268435455.\n\n"},
		{Sub, []string{"--max-packet-size", "-5"}, "Error: --max-packet-size must be a number of bytes from 1 to 268435455.\n\n"},
		{Pub, []string{"--max-packet-size", "1000"}, "Error: Unknown option '--max-packet-size'.\n"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse(tc.tool, tc.args, noEnv)
			var ue *UsageError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.want, ue.Msg)
			assert.True(t, ue.Hint)
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	_, err := Parse(Pub, []string{"-t", "a", "--help", "-q", "9"}, noEnv)
	assert.ErrorIs(t, err, ErrHelp)
	_, err = Parse(Sub, []string{"--version"}, noEnv)
	assert.ErrorIs(t, err, ErrVersion)
}

// TestOptionsFile checks the per-user file of default options: read from
// $XDG_CONFIG_HOME, else ~/.config, overridden by the command line, with
// comments and a value that keeps its spaces.
func TestOptionsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o700))
		require.NoError(t, os.WriteFile(name, []byte(text), 0o600))
	}
	write(filepath.Join(dir, "xdg", "mqtt-pub"), "# defaults\r\n-p 1884\r\n-q 1\n\n-m hello world\n-t from/file\n")
	write(filepath.Join(dir, "home", ".config", "mqtt-sub"), "-t from/file\n-v\n")

	o, err := Parse(Pub, []string{"-q", "2", "-t", "cli"}, env(map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg")}))
	require.NoError(t, err)
	assert.Equal(t, 1884, o.Port)
	assert.Equal(t, 2, o.QoS, "the command line overrides the file")
	assert.Equal(t, "hello world", o.Message)
	assert.Equal(t, "cli", o.Topic)

	// As in mosquitto, a message mode in the file and another on the
	// command line are two modes.
	_, err = Parse(Pub, []string{"-n"}, env(map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg")}))
	require.Error(t, err)
	assert.Equal(t, "Error: Only one type of message can be sent at once.\n\n", err.Error())

	// mqtt-sub's topics add up; HOME is the fallback.
	o, err = Parse(Sub, []string{"-t", "cli"}, env(map[string]string{"HOME": filepath.Join(dir, "home")}))
	require.NoError(t, err)
	assert.Equal(t, []string{"from/file", "cli"}, o.Topics)
	assert.True(t, o.Verbose)

	// Errors in the file are reported as on the command line.
	write(filepath.Join(dir, "bad", "mqtt-sub"), "-q 3\n")
	_, err = Parse(Sub, []string{"-t", "a"}, env(map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "bad")}))
	require.Error(t, err)
	assert.Equal(t, "Error: Invalid QoS given: 3\n", err.Error())
}

// TestPasswordSources checks that a password can stay out of argv: from a
// file or from the environment, and that the last of -P, --pw-file and -L
// wins.
func TestPasswordSources(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("from-file\r\nsecond line\n"), 0o600))
	withEnv := env(map[string]string{PasswordEnv: "from-env"})
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"file", []string{"-u", "u", "--pw-file", pwFile}, noEnv, "from-file"},
		{"environment", []string{"-u", "u"}, withEnv, "from-env"},
		{"environment needs a user name", nil, withEnv, ""},
		{"-P beats the environment", []string{"-u", "u", "-P", "argv"}, withEnv, "argv"},
		{"file beats the environment", []string{"-u", "u", "--pw-file", pwFile}, withEnv, "from-file"},
		{"last wins: -P", []string{"-u", "u", "--pw-file", pwFile, "-P", "argv"}, noEnv, "argv"},
		{"last wins: file", []string{"-u", "u", "-P", "argv", "--pw-file", pwFile}, noEnv, "from-file"},
		{"-L", []string{"-L", "mqtt://u:url@h/t"}, withEnv, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse(Pub, append([]string{"-t", "a", "-n"}, tc.args...), tc.env)
			require.NoError(t, err)
			assert.Equal(t, tc.want, o.Password)
		})
	}
	_, err := Parse(Pub, []string{"-u", "u", "--pw-file", filepath.Join(t.TempDir(), "missing")}, noEnv)
	var ue *UsageError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.Msg, "Error: --pw-file: ")
	assert.False(t, ue.Hint)
}

func TestAtoiAtof(t *testing.T) {
	for s, want := range map[string]int{"": 0, "x": 0, "12": 12, " -3z": -3, "+4": 4, "99999999999": 2147483647, "-99999999999": -2147483648} {
		assert.Equal(t, want, atoi(s), "atoi(%q)", s)
	}
	for s, want := range map[string]float64{"": 0, "x": 0, "0.5": 0.5, ".5s": 0.5, "1e2x": 100, "1e": 1, "-2.": -2, "+.": 0} {
		assert.Equal(t, want, atof(s), "atof(%q)", s)
	}
}

// TestParseProperties checks what -D, -V 5 and -x leave in Options; their
// error messages are compared with mosquitto's in the cmd packages.
func TestParseProperties(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, o *Options)
	}{
		{"-D makes MQTT 5.0", []string{"-V", "311", "-D", "CONNECT", "Receive-Maximum", "1x"}, func(t *testing.T, o *Options) {
			assert.Equal(t, client.MQTT5, o.Protocol)
			p, ok := o.Properties.Get(CmdConnect, packets.PropReceiveMaximum)
			require.True(t, ok)
			assert.Equal(t, uint32(1), p.Int, "atol reads the leading digits")
		}},
		{"a later -V wins", []string{"-D", "publish", "content-type", "x", "-V", "311"}, func(t *testing.T, o *Options) {
			assert.Equal(t, client.MQTT311, o.Protocol)
			assert.False(t, o.Properties.Empty())
		}},
		{"user properties keep their order", []string{"-D", "publish", "user-property", "k", "1", "-D", "publish", "user-property", "k", "2"},
			func(t *testing.T, o *Options) {
				ps := o.Properties[CmdPublish]
				require.Len(t, ps, 2)
				assert.Equal(t, [2]string{"k", "1"}, [2]string{ps[0].Key, ps[0].Str})
				assert.Equal(t, [2]string{"k", "2"}, [2]string{ps[1].Key, ps[1].Str})
			}},
		{"-c at 5.0 never expires", []string{"-V", "5", "-c", "-i", "x"}, func(t *testing.T, o *Options) {
			assert.Equal(t, int64(math.MaxUint32), o.SessionExpiry)
			p, ok := o.Properties.Get(CmdConnect, packets.PropSessionExpiryInterval)
			require.True(t, ok)
			assert.Equal(t, uint32(math.MaxUint32), p.Int)
		}},
		{"-x at 3.1.1 is ignored", []string{"-x", "60"}, func(t *testing.T, o *Options) {
			assert.Equal(t, client.MQTT311, o.Protocol)
			assert.True(t, o.Properties.Empty())
		}},
		{"-x ∞", []string{"-V", "mqttv5", "-x", "∞", "-i", "x"}, func(t *testing.T, o *Options) {
			assert.Equal(t, int64(math.MaxUint32), o.SessionExpiry)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse(Pub, append([]string{"-t", "a", "-n"}, tc.args...), noEnv)
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

// TestPropertyErrors checks the -D errors that do not need a broker against
// mosquitto's texts (cfg_parse_property and mosquitto_property_check_all in
// mosquitto 2.0.11), byte for byte.
func TestPropertyErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-D", "connect", "receive-maximum"}, "Error: --property argument given but not enough arguments specified.\n\n"},
		{[]string{"-D", "connect", "user-property", "k"}, "Error: --property argument given but not enough arguments specified.\n\n"},
		{[]string{"-D", "foo", "bar", "1"}, "Error: Invalid command given in --property argument.\n\n"},
		{[]string{"-D", "connect", "bogus", "1"}, "Error: Invalid property name given in --property argument.\n\n"},
		{[]string{"-D", "publish", "receive-maximum", "5"}, "Error: receive-maximum property not allowed for publish in --property argument.\n\n"},
		{[]string{"-D", "will", "topic-alias", "1"}, "Error: topic-alias property not allowed for will in --property argument.\n\n"},
		{[]string{"-D", "puback", "user-property", "a", "b"}, "Error: user-property property not supported for puback in --property argument.\n\n"},
		{[]string{"-D", "auth", "authentication-method", "x"}, "Error: authentication-method property not supported for auth in --property argument.\n\n"},
		{[]string{"-D", "publish", "subscription-identifier", "1"}, "Error: subscription-identifier property not supported for publish in --property argument.\n\n"},
		{[]string{"-D", "connack", "assigned-client-identifier", "x"}, ""},
		{[]string{"-D", "connect", "receive-maximum", "70000"}, "Error: Property value (70000) out of range for property receive-maximum.\n\n"},
		{[]string{"-D", "connect", "receive-maximum", "-1"}, "Error: Property value (-1) out of range for property receive-maximum.\n\n"},
		{[]string{"-D", "publish", "payload-format-indicator", "256"}, "Error: Property value (256) out of range for property payload-format-indicator.\n\n"},
		{[]string{"-D", "publish", "message-expiry-interval", "4294967296"}, "Error: Property value (4294967296) out of range for property message-expiry-interval.\n\n"},
		{[]string{"-D", "subscribe", "subscription-identifier", "268435456"}, "Error adding property subscription-identifier 4\n"},
		{[]string{"-D", "publish", "content-type", "\xff"}, "Error adding property content-type 6\n"},
		// MQTT 5.0 §2.2.2.2: a property other than User Property at most once.
		{[]string{"-D", "publish", "content-type", "a", "-D", "publish", "content-type", "b"}, "Error in PUBLISH properties: Duplicate property in property list\n"},
		{[]string{"-V", "5", "-x", "5", "-D", "connect", "session-expiry-interval", "5"}, "Error in CONNECT properties: Duplicate property in property list\n"},
		{[]string{"-D", "connect", "receive-maximum", "x"}, "Error in CONNECT properties: A network protocol error occurred when communicating with the broker.\n"},
		{[]string{"-D", "connect", "request-problem-information", "2"}, "Error in CONNECT properties: A network protocol error occurred when communicating with the broker.\n"},
		{[]string{"-D", "publish", "topic-alias", "0"}, "Error in PUBLISH properties: A network protocol error occurred when communicating with the broker.\n"},
		{[]string{"-V", "5", "-c"}, "Error: You must provide a client id if you are using an infinite session expiry interval.\n"},
		{[]string{"-V", "5", "-x", "-1"}, "Error: You must provide a client id if you are using an infinite session expiry interval.\n"},
		{[]string{"-V", "5", "-x", "abc"}, "Error: session-expiry-interval not a number.\n\n"},
		{[]string{"--property=connect"}, "Error: Unknown option '--property=connect'.\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := Parse(Pub, append([]string{"-t", "a", "-n"}, tc.args...), noEnv)
			var ue *UsageError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.want, ue.Msg)
			assert.True(t, ue.Hint)
		})
	}
}
