// auth.go holds MQTT 5.0 enhanced authentication (MQTT 5.0 §4.12): the
// AUTH exchange inside the CONNECT/CONNACK handshake, and
// re-authentication on a live connection.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/feedmq/feedmq/packets"
)

// Authenticator runs the client's side of an enhanced authentication
// method, such as SCRAM or Kerberos (MQTT 5.0 §4.12). The client calls it
// on one goroutine at a time; each exchange starts with Start.
type Authenticator interface {
	// Method names the authentication method, sent in CONNECT and in
	// every AUTH (MQTT5-4.12.0-5).
	Method() string
	// Start returns the initial Authentication Data, for CONNECT or for
	// a re-authentication; nil sends none.
	Start(ctx context.Context) ([]byte, error)
	// Continue answers the server's challenge (an AUTH with reason 0x18)
	// with the next step's data (MQTT5-4.12.0-3).
	Continue(ctx context.Context, challenge []byte) ([]byte, error)
	// Done receives the server's final data, from CONNACK or from the AUTH
	// that ends a re-authentication; an error (the server's proof did not
	// verify, say) fails the connection.
	Done(ctx context.Context, data []byte) error
}

// ErrAuthentication wraps the failures of an enhanced authentication
// exchange that are the client's or its Authenticator's.
var ErrAuthentication = errors.New("client: enhanced authentication failed")

// authProperties returns the properties of an AUTH or CONNECT carrying the
// method and data.
func authProperties(method string, data []byte) *packets.Properties {
	ps := &packets.Properties{}
	ps.SetAuthenticationMethod(method)
	if data != nil {
		ps.SetAuthenticationData(data)
	}
	return ps
}

// checkMethod verifies that a server packet names the method the client
// uses (MQTT5-4.12.0-5).
func checkMethod(a Authenticator, ps *packets.Properties, what string) ([]byte, error) {
	if ps == nil || !ps.Present.Has(packets.PropAuthenticationMethod) || ps.AuthenticationMethod != a.Method() {
		return nil, &violation{packets.ReasonProtocolError, what + " does not name the authentication method " + a.Method() + " (MQTT5-4.12.0-5)"}
	}
	return ps.AuthenticationData, nil
}

// authenticate answers the server's AUTH challenges during the handshake
// until CONNACK arrives, and returns it. CONNECT has been sent; nothing
// but AUTH may follow until CONNACK (MQTT5-3.1.2-30).
func (c *Client) authenticate(ctx context.Context, nc net.Conn, a Authenticator) (*packets.Connack, error) {
	for {
		p, err := packets.ReadPacketVersion(nc, MQTT5)
		if err != nil {
			return nil, err
		}
		c.trace(false, p)
		switch p := p.(type) {
		case *packets.Connack:
			if p.ReasonCode >= 0x80 {
				return p, nil // refused: connectRefusal reports it
			}
			data, err := checkMethod(a, p.Properties, "CONNACK")
			if err != nil {
				return nil, err
			}
			if err := a.Done(ctx, bytes.Clone(data)); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
			}
			return p, nil
		case *packets.Auth:
			if p.ReasonCode != packets.ReasonContinueAuthentication {
				return nil, &violation{packets.ReasonProtocolError, fmt.Sprintf("AUTH with reason %#02x before CONNACK", byte(p.ReasonCode))}
			}
			challenge, err := checkMethod(a, p.Properties, "AUTH")
			if err != nil {
				return nil, err
			}
			answer, err := a.Continue(ctx, bytes.Clone(challenge))
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
			}
			reply := &packets.Auth{ReasonCode: packets.ReasonContinueAuthentication, Properties: authProperties(a.Method(), answer)}
			c.trace(true, reply)
			b, err := reply.AppendVersion(nil, MQTT5)
			if err != nil {
				return nil, err
			}
			if _, err := nc.Write(b); err != nil {
				return nil, err
			}
			c.stats.packetsOut.Add(1)
		default:
			return nil, fmt.Errorf("%w: %s before CONNACK (MQTT-3.2.0-1)", ErrProtocolViolation, p.Type())
		}
	}
}

// Reauthenticate runs the Authenticator's exchange again on the live
// connection (MQTT 5.0 §4.12.1), to refresh a credential that expires,
// and waits until the server accepted it or ctx ends. The connection
// carries on meanwhile. A server that refuses closes the connection with
// DISCONNECT, whose reason the error carries. It needs Config.MQTT5's
// Authenticator, and a connection.
func (c *Client) Reauthenticate(ctx context.Context) error {
	a := c.s.MQTT5.Authenticator
	if a == nil {
		return errors.New("client: reauthenticate: no Config.MQTT5.Authenticator (MQTT5-4.12.1-1)")
	}
	cn := c.current.Load()
	if cn == nil {
		return ErrNotConnected
	}
	ra := &reauth{steps: make(chan *packets.Auth, 1)}
	if !cn.reauth.CompareAndSwap(nil, ra) {
		return errors.New("client: reauthenticate: already in progress")
	}
	defer cn.reauth.CompareAndSwap(ra, nil)
	data, err := a.Start(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	if err := cn.send(&packets.Auth{ReasonCode: packets.ReasonReAuthenticate, Properties: authProperties(a.Method(), data)}); err != nil {
		return err
	}
	for {
		var p *packets.Auth
		select {
		case p = <-ra.steps:
		case <-cn.done:
			return fmt.Errorf("client: reauthenticate: %w", cn.err)
		case <-ctx.Done():
			return ctx.Err()
		}
		got, err := checkMethod(a, p.Properties, "AUTH")
		if err != nil {
			cn.abort(err)
			return err
		}
		if p.ReasonCode == packets.ReasonSuccess {
			if err := a.Done(ctx, got); err != nil {
				err = fmt.Errorf("%w: %w", ErrAuthentication, err)
				cn.abort(&violation{packets.ReasonNotAuthorized, err.Error()})
				return err
			}
			return nil
		}
		answer, err := a.Continue(ctx, got)
		if err != nil {
			// A failed re-authentication ends the connection (MQTT5-4.12.1-2).
			err = fmt.Errorf("%w: %w", ErrAuthentication, err)
			cn.abort(&violation{packets.ReasonNotAuthorized, err.Error()})
			return err
		}
		if err := cn.send(&packets.Auth{ReasonCode: packets.ReasonContinueAuthentication, Properties: authProperties(a.Method(), answer)}); err != nil {
			return err
		}
	}
}

// reauth is a re-authentication in progress on a connection.
type reauth struct {
	steps chan *packets.Auth // the server's AUTH packets, copied
}

// onAuth hands a server AUTH to the re-authentication in progress. An AUTH
// when none is in progress, or without an Authenticator, is a protocol
// error (MQTT5-4.12.0-7).
func (cn *conn) onAuth(p *packets.Auth) error {
	ra := cn.reauth.Load()
	if ra == nil || cn.c.s.MQTT5.Authenticator == nil {
		return &violation{packets.ReasonProtocolError, "AUTH while no authentication is in progress"}
	}
	if p.ReasonCode != packets.ReasonSuccess && p.ReasonCode != packets.ReasonContinueAuthentication {
		return &violation{packets.ReasonProtocolError, fmt.Sprintf("AUTH with reason %#02x", byte(p.ReasonCode))}
	}
	cp := &packets.Auth{ReasonCode: p.ReasonCode}
	if p.Properties != nil {
		ps := *p.Properties
		ps.AuthenticationData = bytes.Clone(ps.AuthenticationData)
		ps.UserProperties = append([]UserProperty(nil), ps.UserProperties...)
		cp.Properties = &ps
	}
	select {
	case ra.steps <- cp:
		return nil
	default:
		return &violation{packets.ReasonProtocolError, "AUTH before the client answered the previous one"}
	}
}
