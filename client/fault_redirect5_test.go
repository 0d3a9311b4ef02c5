package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
	"github.com/feedmq/feedmq/packets"
)

func redirecting(_ packets.ReasonCode, ref string) *packets.Properties {
	ps := &packets.Properties{}
	ps.SetServerReference(ref)
	return ps
}

// TestFaultServerRedirect follows Server moved (0x9D) and Use another
// server (0x9C) through Config.MQTT5.OnRedirect (MQTT 5.0 §4.11): from a
// CONNACK refusal, from a DISCONNECT on a live connection, and no further
// than MaxRedirects in a row.
func TestFaultServerRedirect(t *testing.T) {
	a, b := brokertest.New(t), brokertest.New(t)
	refs := map[string]string{"a": a.URL(), "b": b.URL()}
	cfg := client.Config{
		Brokers: []string{a.URL()}, ClientID: "redirect", Protocol: client.MQTT5,
		ConnectTimeout: 2 * time.Second,
		Reconnect:      client.Backoff{InitialDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	}
	cfg.MQTT5.OnRedirect = func(ref string) (string, bool) { u, ok := refs[ref]; return u, ok }
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	errc := faultGo(func() error { return c.Connect(context.Background()) })
	ca := a.Accept(t)
	ca.ExpectConnect(t)
	ca.Send(t, &packets.Connack{ReasonCode: packets.ReasonServerMoved, Properties: redirecting(0x9d, "b")})
	cb := b.Accept(t)
	cb.ExpectConnect(t)
	cb.Send(t, &packets.Connack{})
	require.NoError(t, faultRecv(t, errc), "the CONNACK redirect was followed")

	// A DISCONNECT with Use another server sends the client back to a.
	cb.Send(t, &packets.Disconnect{ReasonCode: packets.ReasonUseAnotherServer, Properties: redirecting(0x9c, "a")})

	// a and b now refer to each other for ever: the client follows
	// MaxRedirects in a row (a→b, b→a, a→b), then leaves the chain for its
	// Brokers list (a) although b's last refusal points at b again.
	hops := []struct {
		srv *brokertest.Server
		ref string
	}{{a, "b"}, {b, "a"}, {a, "b"}, {b, "b"}}
	require.Len(t, hops, client.MaxRedirects+1)
	for _, h := range hops {
		conn := h.srv.Accept(t)
		conn.ExpectConnect(t)
		conn.Send(t, &packets.Connack{ReasonCode: packets.ReasonUseAnotherServer, Properties: redirecting(0x9c, h.ref)})
	}
	conn := a.Accept(t)
	conn.ExpectConnect(t)
	b.ExpectNoConnection(t, 100*time.Millisecond)
	conn.Send(t, &packets.Connack{})
}
