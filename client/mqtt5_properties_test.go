package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/feedmq/feedmq/packets"
)

// TestMessageProperties checks what a handler sees of a received PUBLISH's
// properties, the Topic Alias and an explicit Payload Format Indicator of
// 0 included, which mqtt-sub prints (%A, %F).
func TestMessageProperties(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*packets.Properties)
		want *MessageProperties
	}{
		{"none", func(*packets.Properties) {}, nil},
		{"topic alias only (MQTT5-3.3.2-10: accepted, resolved, still shown)", func(ps *packets.Properties) { ps.SetTopicAlias(3) },
			&MessageProperties{TopicAlias: 3}},
		{"payload format 0", func(ps *packets.Properties) { ps.SetPayloadFormatIndicator(0) },
			&MessageProperties{HasPayloadFormat: true}},
		{"payload format 1", func(ps *packets.Properties) { ps.SetPayloadFormatIndicator(1) },
			&MessageProperties{HasPayloadFormat: true, PayloadUTF8: true}},
		{"all", func(ps *packets.Properties) {
			ps.SetMessageExpiryInterval(9)
			ps.SetContentType("c")
			ps.SetResponseTopic("r")
			ps.SetCorrelationData([]byte("d"))
			ps.UserProperties = []packets.StringPair{{Key: "k", Value: "v"}}
			ps.SubscriptionIdentifiers = []uint32{7}
		}, &MessageProperties{Expiry: 9 * time.Second, ContentType: "c", ResponseTopic: "r", CorrelationData: []byte("d"),
			UserProperties: []UserProperty{{Key: "k", Value: "v"}}, SubscriptionIDs: []uint32{7}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := new(packets.Properties)
			tc.set(ps)
			assert.Equal(t, tc.want, messageProperties(ps))
		})
	}
}
