// SOCKS5 proxies, named by Dialer.Proxy or taken from ALL_PROXY and NO_PROXY.

package dial

import (
	"fmt"
	"net/url"
	"os"

	"golang.org/x/net/proxy"
)

// ProxyDirect is the [Dialer.Proxy] value that never uses a proxy,
// whatever the environment says.
const ProxyDirect = "direct"

// proxyDialer returns the dialer for TCP connections as Proxy selects it.
func (d *Dialer) proxyDialer() (proxy.ContextDialer, error) {
	forward := d.netDialer()
	var (
		pd  proxy.Dialer
		err error
	)
	switch d.Proxy {
	case ProxyDirect:
		return forward, nil
	case "":
		pd = proxyFromEnvironment(forward)
	default:
		pd, err = proxyFromString(d.Proxy, forward)
		if err != nil {
			return nil, err
		}
	}
	cd, ok := pd.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("dial: proxy dialer %T cannot honour a context", pd)
	}
	return cd, nil
}

// proxyFromString parses an explicit Proxy setting.
func proxyFromString(s string, forward proxy.Dialer) (proxy.Dialer, error) {
	pu, err := parseURL("proxy", s)
	if err != nil {
		return nil, err
	}
	switch {
	case pu.Scheme != "socks5" && pu.Scheme != "socks5h":
		return nil, fmt.Errorf("dial: proxy %q: unsupported scheme %q (want socks5 or socks5h)", Redact(pu), pu.Scheme)
	case pu.Hostname() == "":
		return nil, fmt.Errorf("dial: proxy %q: missing host", Redact(pu))
	case pu.Path != "" && pu.Path != "/":
		return nil, fmt.Errorf("dial: proxy %q: unexpected path", Redact(pu))
	}
	pd, err := proxy.FromURL(pu, forward)
	if err != nil {
		return nil, fmt.Errorf("dial: proxy %q: %w", Redact(pu), err)
	}
	return pd, nil
}

// proxyFromEnvironment is proxy.FromEnvironmentUsing without its process-wide
// cache, so a changed environment takes effect on the next reconnect.
func proxyFromEnvironment(forward proxy.Dialer) proxy.Dialer {
	all := getenvEither("ALL_PROXY", "all_proxy")
	if all == "" {
		return forward
	}
	pu, err := url.Parse(all)
	if err != nil {
		return forward
	}
	p, err := proxy.FromURL(pu, forward)
	if err != nil {
		return forward
	}
	no := getenvEither("NO_PROXY", "no_proxy")
	if no == "" {
		return p
	}
	perHost := proxy.NewPerHost(p, forward)
	perHost.AddFromString(no)
	return perHost
}

func getenvEither(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
