package packets

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateTopicName(t *testing.T) {
	cases := []struct {
		name string
		rule string // "" when valid
	}{
		{"a", ""},
		{"sport/tennis/player1", ""},
		{"/", ""},                  // two empty levels (§4.7.1.1)
		{"a//b", ""},               // empty level in the middle
		{"/finance", ""},           // leading empty level
		{"$SYS/broker/uptime", ""}, // '$' topics are ordinary names to the codec
		{" ", ""},                  // spaces are allowed (§4.7.3)
		{"\ufeffa", ""},            // a BOM is a valid character (MQTT-1.5.3-3)
		{"日本/東京", ""},              // multi-byte UTF-8
		{strings.Repeat("x", 65535), ""},
		{"", "MQTT-4.7.3-1"},
		{"a\xffb", "MQTT-1.5.3-1"},
		{"\xed\xa0\x80", "MQTT-1.5.3-1"}, // encoded surrogate U+D800
		{"\xc0\x80", "MQTT-1.5.3-1"},     // overlong U+0000
		{"a\x00b", "MQTT-4.7.3-2"},
		{"+", "MQTT-3.3.2-2"},
		{"a/+/b", "MQTT-3.3.2-2"},
		{"#", "MQTT-3.3.2-2"},
		{"a/#", "MQTT-3.3.2-2"},
		{"a+b", "MQTT-3.3.2-2"}, // MQTT-4.7.1-1: no wildcard anywhere in a name
		{strings.Repeat("x", 65536), "MQTT-4.7.3-3"},
	}
	for _, c := range cases {
		err := ValidateTopicName(c.name)
		label := c.name
		if len(label) > 20 {
			label = label[:20] + "..."
		}
		if c.rule == "" {
			assert.NoError(t, err, "%q", label)
			continue
		}
		e := checkError(t, err, ErrMalformed, "validate", 0, "TopicName", c.rule, -1)
		assert.NotEmpty(t, e.Reason, "%q", label)
	}
}

func TestValidateTopicFilter(t *testing.T) {
	cases := []struct {
		filter string
		rule   string // "" when valid
	}{
		// §4.7.1.2 and §4.7.1.3 examples.
		{"sport/tennis/player1/#", ""},
		{"sport/#", ""},
		{"#", ""},
		{"+", ""},
		{"+/tennis/#", ""},
		{"sport/+/player1", ""},
		{"/+", ""},
		{"+/+", ""},
		{"+/", ""},
		{"a//b", ""},
		{"/", ""},
		{"/#", ""},
		{"$SYS/#", ""},
		{"a", ""},
		{strings.Repeat("x", 65535), ""},

		{"sport/tennis#", "MQTT-4.7.1-2"},
		{"sport/tennis/#/ranking", "MQTT-4.7.1-2"},
		{"#/a", "MQTT-4.7.1-2"},
		{"a#", "MQTT-4.7.1-2"},
		{"##", "MQTT-4.7.1-2"},
		{"#/", "MQTT-4.7.1-2"},
		{"sport+", "MQTT-4.7.1-3"},
		{"a+/b", "MQTT-4.7.1-3"},
		{"+a", "MQTT-4.7.1-3"},
		{"a/+b/c", "MQTT-4.7.1-3"},
		{"++", "MQTT-4.7.1-3"},
		{"", "MQTT-4.7.3-1"},
		{"a\x00", "MQTT-4.7.3-2"},
		{"\xff", "MQTT-1.5.3-1"},
		{"\xed\xb0\x80/#", "MQTT-1.5.3-1"},
		{strings.Repeat("x", 65536), "MQTT-4.7.3-3"},
	}
	for _, c := range cases {
		err := ValidateTopicFilter(c.filter)
		label := c.filter
		if len(label) > 20 {
			label = label[:20] + "..."
		}
		if c.rule == "" {
			assert.NoError(t, err, "%q", label)
			continue
		}
		checkError(t, err, ErrMalformed, "validate", 0, "TopicFilter", c.rule, -1)
	}
}

// TestValidatorsAgreeWithCodec: the exported validators accept exactly what
// PUBLISH and SUBSCRIBE accept.
func TestValidatorsAgreeWithCodec(t *testing.T) {
	for _, s := range []string{"a", "a/b", "+", "#", "a/#", "a#", "", "a\x00", "\xff", "/", "$SYS", "+/+", "a+"} {
		nameErr := ValidateTopicName(s)
		pubErr := (&Publish{TopicName: s}).Validate()
		assert.Equal(t, nameErr == nil, pubErr == nil, "topic name %q", s)

		filterErr := ValidateTopicFilter(s)
		subErr := (&Subscribe{PacketID: 1, Subscriptions: []Subscription{{TopicFilter: s}}}).Validate()
		unsubErr := (&Unsubscribe{PacketID: 1, TopicFilters: []string{s}}).Validate()
		assert.Equal(t, filterErr == nil, subErr == nil, "SUBSCRIBE filter %q", s)
		assert.Equal(t, filterErr == nil, unsubErr == nil, "UNSUBSCRIBE filter %q", s)
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		// §4.7.1.2, multi-level wildcard.
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/tennis/player1/#", "sport/tennis/player2", false},
		{"sport/tennis/player1/#", "sport/tennis", false},
		{"sport/#", "sport", true},
		{"#", "sport", true},
		{"#", "/", true},
		{"#", "a/b/c", true},

		// §4.7.1.3, single-level wildcard.
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player2", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"+", "finance", true},
		{"+/tennis/#", "sport/tennis/player1", true},
		{"+/tennis/#", "sport/tennis", true},
		{"+/tennis/#", "sport/golf", false},

		// §4.7.2, topics beginning with $ (MQTT-4.7.2-1).
		{"#", "$SYS/broker/uptime", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"+", "$SYS", false},
		{"+/#", "$SYS/x", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/#", "$SYS", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"$SYS/+/Clients", "$SYS/monitor/Clients", true},
		{"a/$b", "a/$b", true},
		{"a/+", "a/$b", true}, // only a leading '$' is special

		// Empty levels and exact matches.
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		{"a/+/b", "a/b", false},
		{"a//b", "a/b", false},
		{"a/#", "a/", true},
		{"/", "/", true},
		{"/#", "/", true},
		{"+/", "/", true},
		{"+/+", "/", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/", false},
		{"a/b/", "a/b", false},
		{"a", "A", false}, // case sensitive (§4.7.3)
		{"a/b", "a/bc", false},
		{"a/bc", "a/b", false},
		{"\ufeffa", "\ufeffa", true},
		{"\ufeffa", "a", false},
	}
	for _, c := range cases {
		require.NoError(t, ValidateTopicFilter(c.filter), c.filter)
		require.NoError(t, ValidateTopicName(c.topic), c.topic)
		assert.Equal(t, c.want, Match(c.filter, c.topic), "Match(%q, %q)", c.filter, c.topic)
		assert.Equal(t, c.want, refMatch(c.filter, c.topic), "refMatch(%q, %q)", c.filter, c.topic)
	}
}

// refMatch is a plain reading of §4.7: split both into levels; '+' matches
// one level, '#' matches the rest including the parent level, and wildcards
// in the first level never match a topic starting with '$'.
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f := strings.Split(filter, "/")
	n := strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(n) {
			return false
		}
		if level != "+" && level != n[i] {
			return false
		}
	}
	return len(f) == len(n)
}

// strings over alphabet up to length max.
func allStrings(alphabet string, max int) []string {
	out := []string{""}
	prev := []string{""}
	for l := 1; l <= max; l++ {
		var next []string
		for _, p := range prev {
			for _, r := range alphabet {
				next = append(next, p+string(r))
			}
		}
		out = append(out, next...)
		prev = next
	}
	return out
}

// TestMatchExhaustive compares Match with refMatch for every valid filter
// and topic name up to four characters over a small alphabet.
func TestMatchExhaustive(t *testing.T) {
	var filters, topics []string
	for _, s := range allStrings("ab$/+#", 4) {
		if ValidateTopicFilter(s) == nil {
			filters = append(filters, s)
		}
	}
	for _, s := range allStrings("ab$/", 4) {
		if ValidateTopicName(s) == nil {
			topics = append(topics, s)
		}
	}
	require.Greater(t, len(filters), 300)
	require.Greater(t, len(topics), 300)
	matched := 0
	for _, f := range filters {
		for _, n := range topics {
			want := refMatch(f, n)
			if Match(f, n) != want {
				t.Fatalf("Match(%q, %q) = %v, reference says %v", f, n, !want, want)
			}
			if want {
				matched++
			}
		}
	}
	assert.Greater(t, matched, 1000, "the space has matches as well as misses")
}

func FuzzMatch(f *testing.F) {
	f.Add("sport/tennis/player1/#", "sport/tennis/player1")
	f.Add("+/+", "/finance")
	f.Add("#", "$SYS/x")
	f.Add("$SYS/#", "$SYS")
	f.Add("a//b", "a//b")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if ValidateTopicFilter(filter) != nil || ValidateTopicName(topic) != nil {
			return
		}
		if got, want := Match(filter, topic), refMatch(filter, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", filter, topic, got, want)
		}
		// A valid topic name is also a valid filter that matches itself.
		require.NoError(t, ValidateTopicFilter(topic))
		require.True(t, Match(topic, topic), "%q matches itself", topic)
		if !strings.HasPrefix(topic, "$") {
			require.True(t, Match("#", topic))
		}
	})
}
