// Broker URLs: the schemes, ParseBrokerURL with its defaults, and Redact,
// which keeps credentials out of logs and error messages.

package dial

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// transportKind is the family of byte stream a URL scheme asks for.
type transportKind int

const (
	kindTCP transportKind = iota
	kindTLS
	kindWS
	kindWSS
	kindUnix
)

// brokerSchemes maps every accepted URL scheme to its transport and default port.
var brokerSchemes = map[string]struct {
	kind transportKind
	port string
}{
	"mqtt":  {kindTCP, "1883"},
	"tcp":   {kindTCP, "1883"},
	"mqtts": {kindTLS, "8883"},
	"ssl":   {kindTLS, "8883"},
	"tls":   {kindTLS, "8883"},
	"ws":    {kindWS, "80"},
	"wss":   {kindWSS, "443"},
	"unix":  {kindUnix, ""},
}

// defaultWebSocketPath is where brokers such as mosquitto and EMQX serve
// MQTT over WebSocket.
const defaultWebSocketPath = "/mqtt"

// ParseBrokerURL parses a broker address and fills in the defaults, so the
// result names the port (and for WebSocket the path) that Dial will use.
//
// Accepted schemes are mqtt:// and tcp:// (plain TCP, port 1883), mqtts://,
// ssl:// and tls:// (TLS, port 8883), ws:// (port 80) and wss:// (port 443)
// for WebSocket, where the path defaults to "/mqtt", and unix:///path/to.sock
// or unix:/path/to.sock for a Unix domain socket. A bare "host:port" or
// "host", including an IPv6 literal, means mqtt://.
//
// User information in the URL is kept, so the caller may use it as
// credentials, but it never appears in an error message.
func ParseBrokerURL(s string) (*url.URL, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return nil, errors.New("dial: empty broker URL")
	}
	if !strings.Contains(raw, "://") && !hasPrefixFold(raw, "unix:") {
		// A bare IPv6 literal has colons that url.Parse would read as a port.
		if a, err := netip.ParseAddr(raw); err == nil && a.Is6() {
			raw = "[" + strings.Replace(raw, "%", "%25", 1) + "]"
		}
		raw = "mqtt://" + raw
	}
	u, err := parseURL("broker URL", raw)
	if err != nil {
		return nil, err
	}
	return normalizeBrokerURL(u)
}

// parseURL is url.Parse with errors that never show user information. what
// names the setting in error messages.
func parseURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// *url.Error quotes the whole input, so keep only the cause, and
		// not even that when the input holds credentials: a '/' in a
		// password moves it into the host, and the cause quotes the port.
		cause := errors.New("malformed URL")
		if uerr := (*url.Error)(nil); errors.As(err, &uerr) && !strings.Contains(raw, "@") {
			cause = uerr.Err
		}
		return nil, fmt.Errorf("dial: %s %q: %w", what, redactString(raw), cause)
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// Probably credentials cut short by an unescaped '/', '?' or '#'.
		return nil, fmt.Errorf("dial: %s %q: '@' after the host; percent-encode '/', '?' and '#' in user names and passwords", what, redactString(raw))
	}
	return u, nil
}

// normalizeBrokerURL validates u and returns a copy with the scheme in lower
// case and the default port and WebSocket path filled in.
func normalizeBrokerURL(u *url.URL) (*url.URL, error) {
	if u == nil {
		return nil, errors.New("dial: nil broker URL")
	}
	v := *u
	v.Scheme = strings.ToLower(v.Scheme)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("dial: broker URL %q: "+format, append([]any{Redact(&v)}, args...)...)
	}
	scheme, ok := brokerSchemes[v.Scheme]
	if !ok {
		if v.Scheme == "" {
			return nil, bad("missing scheme")
		}
		return nil, bad("unsupported scheme %q (want mqtt, tcp, mqtts, ssl, tls, ws, wss or unix)", v.Scheme)
	}
	if v.Fragment != "" {
		return nil, bad("a fragment (#) is not allowed; percent-encode '#' in a password as %%23")
	}

	if scheme.kind == kindUnix {
		if v.Host != "" {
			return nil, bad("unix socket URLs have no host; write unix:///path/to.sock or unix:/path/to.sock")
		}
		if v.RawQuery != "" {
			return nil, bad("a query is not allowed")
		}
		if socketPath(&v) == "" {
			return nil, bad("missing socket path")
		}
		return &v, nil
	}

	if v.Opaque != "" || v.Hostname() == "" {
		return nil, bad("missing host")
	}
	port := v.Port()
	if port == "" {
		port = scheme.port
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, bad("port %q out of range", port)
	}
	v.Host = net.JoinHostPort(v.Hostname(), port)

	switch scheme.kind {
	case kindWS, kindWSS:
		if v.Path == "" {
			v.Path, v.RawPath = defaultWebSocketPath, ""
		}
	default:
		// A path here is usually a ws:// URL with the wrong scheme.
		if (v.Path != "" && v.Path != "/") || v.RawQuery != "" || v.ForceQuery {
			return nil, bad("a path or query is only meaningful for ws:// and wss://")
		}
		v.Path, v.RawPath = "", ""
	}
	return &v, nil
}

// socketPath returns the file name of a unix: URL: the path of unix:///p and
// unix:/p, or the opaque part of unix:relative.sock.
func socketPath(u *url.URL) string {
	if u.Opaque != "" {
		if p, err := url.PathUnescape(u.Opaque); err == nil {
			return p
		}
		return u.Opaque
	}
	return u.Path
}

// redactURL returns u as a string without its user information, for error
// messages. Unlike url.URL.Redacted it also drops the user name, which some
// brokers use as an access token.
func Redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	v := *u
	v.User = url.User("xxxxx")
	return v.String()
}

// redactString removes the user information from a URL that did not parse.
// It cuts at the last '@', wherever it is, because where the user
// information ends is exactly what may be broken.
func redactString(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
	}
	if i := strings.LastIndex(s[start:], "@"); i >= 0 {
		return s[:start] + "xxxxx" + s[start+i:]
	}
	return s
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
