package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSettleBounds: every bound has an explicit default, and the WebSocket
// frame bound follows the packet bound.
func TestSettleBounds(t *testing.T) {
	s, err := Config{Brokers: []string{"ws://localhost/mqtt"}}.settle()
	require.NoError(t, err)
	assert.Equal(t, DefaultMaxPacketSize, s.MaxPacketSize)
	assert.Equal(t, DefaultMaxInflight, s.MaxInflight)
	assert.Equal(t, DefaultMaxPending, s.MaxPending)
	assert.Equal(t, DefaultHandlerQueue, s.HandlerQueue)
	assert.Equal(t, DefaultMaxPacketSize+5, s.Transport.MaxFrameSize)

	s, err = Config{Brokers: []string{"ws://localhost/mqtt"}, MaxPacketSize: 1000}.settle()
	require.NoError(t, err)
	assert.Equal(t, 1005, s.Transport.MaxFrameSize)

	for name, cfg := range map[string]Config{
		"no brokers":             {},
		"persistent without id":  {Brokers: []string{"localhost"}, PersistentSession: true},
		"negative MaxInflight":   {Brokers: []string{"localhost"}, MaxInflight: -1},
		"MaxInflight over 65535": {Brokers: []string{"localhost"}, MaxInflight: 70000},
		"sub-second keepalive":   {Brokers: []string{"localhost"}, KeepAlive: 500e6},
		"will topic wildcard":    {Brokers: []string{"localhost"}, Will: &Will{Topic: "a/#"}},
		"will QoS 3":             {Brokers: []string{"localhost"}, Will: &Will{Topic: "a", QoS: 3}},
		"MQTT 3.1 long id":       {Brokers: []string{"localhost"}, Protocol: MQTT31, ClientID: "a-client-id-longer-than-23"},
	} {
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
}
