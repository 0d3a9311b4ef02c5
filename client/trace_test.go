package client_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
)

// packetTrace records what Config.OnPacket reports, one line per packet:
// "> TYPE" sent, "< TYPE" received, with the packet identifier of the
// acknowledgments.
type packetTrace struct {
	mu    sync.Mutex
	lines []string
	pw    []string // passwords seen in a CONNECT
}

func (tr *packetTrace) onPacket(sent bool, p packets.Packet) {
	dir := "<"
	if sent {
		dir = ">"
	}
	line := dir + " " + p.Type().String()
	switch p := p.(type) {
	case *packets.Connect:
		tr.mu.Lock()
		tr.pw = append(tr.pw, string(p.Password))
		tr.mu.Unlock()
	case *packets.Publish:
		line += fmt.Sprintf(" q%d %s %q", p.QoS, p.TopicName, p.Payload)
	case *packets.Puback:
		line += fmt.Sprint(" ", p.PacketID)
	case *packets.Pubrec:
		line += fmt.Sprint(" ", p.PacketID)
	case *packets.Pubrel:
		line += fmt.Sprint(" ", p.PacketID)
	case *packets.Pubcomp:
		line += fmt.Sprint(" ", p.PacketID)
	}
	tr.mu.Lock()
	tr.lines = append(tr.lines, line)
	tr.mu.Unlock()
}

func (tr *packetTrace) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.lines...)
}

// TestOnPacket checks that Config.OnPacket sees every packet of a session
// in the order the flows give them, at 3.1.1 and 5.0: a packet sent is
// reported before the broker's answer to it, so a trace reads in causal
// order however the goroutines are scheduled. The subscriber's handler runs
// before its acknowledgment goes out.
func TestOnPacket(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{Users: map[string]string{"u": "trace-pw"}})
	for _, level := range []packets.ProtocolLevel{client.MQTT311, client.MQTT5} {
		t.Run(level.String(), func(t *testing.T) {
			ctx := testCtx(t)
			var tr packetTrace
			c, err := client.New(client.Config{
				Brokers: []string{b.URL()}, Protocol: level, Username: "u", Password: "trace-pw",
				OnPacket: tr.onPacket, ClientID: "trace-" + level.String(),
			})
			require.NoError(t, err)
			require.NoError(t, c.Connect(ctx))
			handled := make(chan struct{}, 3)
			_, err = c.Subscribe(ctx, "trace/+", client.ExactlyOnce, func(m *client.Message) {
				tr.onPacket(false, &packets.Publish{TopicName: "handler", Payload: m.Payload})
				handled <- struct{}{}
			})
			require.NoError(t, err)
			for q := range client.QoS(3) {
				require.NoError(t, c.Publish(ctx, "trace/x", []byte{'0' + byte(q)}, client.WithQoS(q)))
				<-handled
			}
			// The inbound QoS 2 flow ends on its own after the handler.
			require.Eventually(t, func() bool { return slices.Contains(tr.get(), "> PUBCOMP 2") }, 5*time.Second, itTick)
			require.NoError(t, c.Disconnect(ctx))

			// Inbound acknowledgments go out once the handler returned,
			// on another goroutine than the reader: compare the flows
			// one by one.
			got := tr.get()
			assert.Equal(t, []string{"> CONNECT", "< CONNACK", "> SUBSCRIBE", "< SUBACK"}, got[:4])
			assert.Equal(t, "> DISCONNECT", got[len(got)-1])
			flows := map[string][]string{}
			for _, l := range got[4 : len(got)-1] {
				key := "in"
				if strings.HasPrefix(l, "> PUBLISH") || strings.HasPrefix(l, "< PUBACK") ||
					strings.HasPrefix(l, "< PUBREC") || strings.HasPrefix(l, "> PUBREL") || strings.HasPrefix(l, "< PUBCOMP") {
					key = "out"
				}
				flows[key] = append(flows[key], l)
			}
			assert.Equal(t, []string{
				`> PUBLISH q0 trace/x "0"`,
				`> PUBLISH q1 trace/x "1"`, `< PUBACK 2`, // SUBSCRIBE took 1
				`> PUBLISH q2 trace/x "2"`, `< PUBREC 3`, `> PUBREL 3`, `< PUBCOMP 3`,
			}, flows["out"])
			assert.Equal(t, []string{
				`< PUBLISH q0 trace/x "0"`, `< PUBLISH q0 handler "0"`,
				`< PUBLISH q1 trace/x "1"`, `< PUBLISH q0 handler "1"`, `> PUBACK 1`,
				`< PUBLISH q2 trace/x "2"`, `< PUBLISH q0 handler "2"`, `> PUBREC 2`, `< PUBREL 2`, `> PUBCOMP 2`,
			}, flows["in"])
			assert.Equal(t, []string{"trace-pw"}, tr.pw, "the CONNECT reported is the one sent")
		})
	}
}
