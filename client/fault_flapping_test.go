package client_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/brokertest"
)

// TestFaultReconnectFlapping accepts every connection and closes it right
// after CONNACK, as a broker does to a duplicate client id or a wedged
// session. With the default backoff the client does not reconnect about
// once a second for ever: the backoff restarts only after a connection
// stayed up Backoff.StableAfter, so it keeps growing, and the first minute
// sees no more than 10 connections.
func TestFaultReconnectFlapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := brokertest.NewPipe(t)
		srv.Timeout = 10 * time.Minute
		cfg := faultConfig(srv)
		cfg.Reconnect = client.Backoff{} // the defaults
		_, conn := faultConnect(t, srv, cfg, false)
		start := time.Now()
		conn.Close()
		var at []time.Duration
		for {
			conn, _ := srv.AcceptConnected(t, false)
			since := time.Since(start)
			if since > time.Minute {
				conn.Close()
				break
			}
			at = append(at, since.Round(time.Millisecond))
			conn.Close()
		}
		t.Logf("connections in the first minute after a flap, at %v", at)
		assert.LessOrEqual(t, len(at)+1, 10, "connections in the first minute")
		for i := 1; i < len(at); i++ {
			assert.Greater(t, at[i]-at[i-1], time.Duration(0))
		}
		if len(at) >= 3 {
			assert.Greater(t, at[len(at)-1]-at[len(at)-2], at[1]-at[0], "the waits grow")
		}
	})
}
