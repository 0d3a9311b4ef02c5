package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/feedmq/feedmq/client"
)

// Message is what mqtt-sub prints of a received message.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      int
	Retained bool
	// MID is the packet identifier, which %m and the "mid" of %j print.
	MID int
	// Props are the MQTT 5.0 properties (%A %C %D %E %F %P %R %S and the
	// "properties" of %j); nil for none, and always at 3.1.x.
	Props *client.MessageProperties
}

// Printer prints messages as mosquitto_sub does (print_message in
// sub_client_output.c): the payload, "topic payload" with -v, or the -F
// format; a newline after each unless -N.
type Printer struct {
	Format       string // -F; validated by CheckFormat
	Verbose      bool   // -v
	EOL          bool   // false with -N
	Pretty       bool   // --pretty: indented JSON for %j and %J
	RandomFilter int    // --random-filter in 1/100 %; 10000 prints everything
	// Errors receives the error for a %J payload that is not JSON.
	Errors io.Writer
}

// Print writes m as it was received at now, in one Write, unless the
// random filter drops it.
func (p *Printer) Print(w io.Writer, m *Message, now time.Time) error {
	if p.RandomFilter < DefaultRandomFilter && rand.IntN(10000) >= p.RandomFilter {
		return nil
	}
	b := p.Append(nil, m, now)
	if len(b) == 0 {
		return nil
	}
	_, err := w.Write(b)
	return err
}

// Append appends m as Print writes it, without the random filter.
func (p *Printer) Append(b []byte, m *Message, now time.Time) []byte {
	switch {
	case p.Format != "":
		return p.appendFormatted(b, m, now)
	case p.Verbose:
		if len(m.Payload) == 0 {
			if p.EOL {
				b = append(b, m.Topic...)
				b = append(b, " (null)\n"...)
			}
			return b
		}
		b = append(b, m.Topic...)
		b = append(b, ' ')
		b = append(b, m.Payload...)
	default:
		// An empty payload prints nothing at all, not even the newline.
		if len(m.Payload) == 0 {
			return b
		}
		b = append(b, m.Payload...)
	}
	if p.EOL {
		b = append(b, '\n')
	}
	return b
}

// CheckFormat validates an -F format as mosquitto's check_format does,
// with the same messages. It accepts the MQTT 5 fields (%A %C %D %E %F %P
// %R %S), which print nothing or blanks for a message without the
// property, and so for every MQTT 3.1.1 message, as in mosquitto_sub.
func CheckFormat(s string) error {
	incomplete := func() error { return usageErr("Error: Incomplete format specifier.\n") }
	n := len(s)
	for i := 0; i < n; i++ {
		switch s[i] {
		case '%':
			if i == n-1 {
				return incomplete()
			}
			if s[i+1] == '0' || s[i+1] == '-' { // flag
				if i++; i == n-1 {
					return incomplete()
				}
			}
			for isDigit(s[i+1]) { // field width
				if i++; i == n-1 {
					return incomplete()
				}
			}
			if s[i+1] == '.' { // precision
				if i++; i == n-1 {
					return incomplete()
				}
				for isDigit(s[i+1]) {
					if i++; i == n-1 {
						return incomplete()
					}
				}
			}
			switch s[i+1] {
			case '%', 'A', 'C', 'D', 'E', 'F', 'I', 'l', 'm', 'P', 'p', 'q', 'R', 'S', 'r', 't', 'j', 'J', 'U', 'x', 'X':
			default:
				return usageErr("Error: Invalid format specifier '%s'.\n", s[i+1:i+2])
			}
			i++
		case '@':
			if i == n-1 {
				return incomplete()
			}
			i++
		case '\\':
			if i == n-1 {
				return usageErr("Error: Incomplete escape specifier.\n")
			}
			switch s[i+1] {
			case '\\', '0', 'a', 'e', 'n', 'r', 't', 'v':
			default:
				return usageErr("Error: Invalid escape specifier '%s'.\n", s[i+1:i+2])
			}
			i++
		}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendFormatted is mosquitto's formatted_print, index for index, so that
// odd formats come out the same.
func (p *Printer) appendFormatted(b []byte, m *Message, now time.Time) []byte {
	f := p.Format
	n := len(f)
	for i := 0; i < n; i++ {
		switch f[i] {
		case '%':
			if i >= n-1 {
				continue
			}
			align, pad, width, prec := byte(0), byte(' '), 0, -1
			i++
			if f[i] == '-' {
				align = '-'
				if i < n-1 {
					i++
				}
			}
			if f[i] == '0' {
				pad = '0'
				if i < n-1 {
					i++
				}
			}
			for i < n-1 && isDigit(f[i]) {
				width = width*10 + int(f[i]-'0')
				i++
			}
			if f[i] == '.' && i < n-1 {
				i++
				prec = 0
				for i < n-1 && isDigit(f[i]) {
					prec = prec*10 + int(f[i]-'0')
					i++
				}
			}
			b = p.appendField(b, m, now, f[i], align, pad, width, prec)
		case '@':
			if i >= n-1 {
				continue
			}
			i++
			switch f[i] {
			case '@':
				b = append(b, '@')
			case 'N':
				b = fmt.Appendf(b, "%09d", now.Nanosecond())
			default:
				b = appendStrftime(b, f[i], now)
			}
		case '\\':
			if i >= n-1 {
				continue
			}
			i++
			switch f[i] {
			case '\\':
				b = append(b, '\\')
			case '0':
				b = append(b, 0)
			case 'a':
				b = append(b, '\a')
			case 'e':
				b = append(b, 0x1b)
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'v':
				b = append(b, '\v')
			}
		default:
			b = append(b, f[i])
		}
	}
	if p.EOL {
		b = append(b, '\n')
	}
	return b
}

// appendField is mosquitto's formatted_print_percent for one % field.
func (p *Printer) appendField(b []byte, m *Message, now time.Time, c, align, pad byte, width, prec int) []byte {
	switch c {
	case '%':
		b = append(b, '%')
	case 'A', 'E', 'F', 'S':
		// MQTT 5.0 integers; blanks of the pad character when absent.
		if v, ok := intProperty(m.Props, c); ok {
			b = appendInt(b, v, align, pad, width)
		} else {
			b = appendRepeat(b, pad, width)
		}
	case 'C':
		if m.Props != nil && m.Props.ContentType != "" {
			b = appendStr(b, m.Props.ContentType, align, width, prec)
		} else {
			b = appendRepeat(b, ' ', width)
		}
	case 'D':
		if m.Props != nil {
			b = append(b, m.Props.CorrelationData...)
		}
	case 'P':
		if m.Props != nil {
			for i, u := range m.Props.UserProperties {
				if i > 0 {
					b = append(b, ' ')
				}
				b = append(append(append(b, u.Key...), ':'), u.Value...)
			}
		}
	case 'R':
		if m.Props != nil && m.Props.ResponseTopic != "" {
			b = appendStr(b, m.Props.ResponseTopic, align, width, prec)
		}
	case 'I':
		b = appendStr(b, now.Format("2006-01-02T15:04:05-0700"), align, width, prec)
	case 'j', 'J':
		out, ok := appendMessageJSON(b, m, now, c == 'j', p.Pretty)
		if !ok {
			if p.Errors != nil {
				fmt.Fprintf(p.Errors, "Error: Message payload is not valid JSON on topic %s.\n", m.Topic)
			}
			return b
		}
		b = out
	case 'l':
		b = appendInt(b, len(m.Payload), align, pad, width)
	case 'm':
		b = appendInt(b, m.MID, align, pad, width)
	case 'p':
		b = appendPayload(b, m.Payload, 0, align, pad, width)
	case 'q':
		b = append(b, byte('0'+m.QoS))
	case 'r':
		if m.Retained {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
	case 't':
		b = appendStr(b, m.Topic, align, width, prec)
	case 'U':
		b = strconv.AppendInt(b, now.Unix(), 10)
		b = fmt.Appendf(b, ".%09d", now.Nanosecond())
	case 'x':
		b = appendPayload(b, m.Payload, 1, align, pad, width)
	case 'X':
		b = appendPayload(b, m.Payload, 2, align, pad, width)
	}
	return b
}

// intProperty returns the integer property a field prints (%A Topic
// Alias, %E Message Expiry Interval, %F Payload Format Indicator, %S the
// first Subscription Identifier), if the message has it.
func intProperty(ps *client.MessageProperties, c byte) (int, bool) {
	if ps == nil {
		return 0, false
	}
	switch c {
	case 'A':
		return int(ps.TopicAlias), ps.TopicAlias != 0
	case 'E':
		return int(ps.Expiry / time.Second), ps.Expiry != 0
	case 'F':
		return boolInt(ps.PayloadUTF8), ps.HasPayloadFormat
	case 'S':
		if len(ps.SubscriptionIDs) > 0 {
			return int(ps.SubscriptionIDs[0]), true
		}
	}
	return 0, false
}

func appendRepeat(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

// appendInt is formatted_print_int: printf's %d, %-*d, %0*d or %*d.
func appendInt(b []byte, v int, align, pad byte, width int) []byte {
	switch {
	case width == 0:
		return strconv.AppendInt(b, int64(v), 10)
	case align == '-':
		return fmt.Appendf(b, "%-*d", width, v)
	case pad == '0':
		return fmt.Appendf(b, "%0*d", width, v)
	}
	return fmt.Appendf(b, "%*d", width, v)
}

// appendStr is formatted_print_str: printf's %*.*s, which counts bytes (Go's
// fmt counts runes).
func appendStr(b []byte, s string, align byte, width, prec int) []byte {
	if prec >= 0 && len(s) > prec {
		s = s[:prec]
	}
	padding := width - len(s)
	if align != '-' {
		b = appendRepeat(b, ' ', padding)
	}
	b = append(b, s...)
	if align == '-' {
		b = appendRepeat(b, ' ', padding)
	}
	return b
}

// appendPayload is mosquitto's write_payload, quirks included: a field width
// also cuts the payload to that many bytes (half as many in hex), the
// precision is ignored, and a left-aligned field is padded with printf's
// "%*s" of the pad length, which for a negative length means its absolute
// value.
func appendPayload(b []byte, payload []byte, hex int, align, pad byte, width int) []byte {
	n := len(payload)
	var padlen int
	if width > 0 {
		n = min(n, width)
		if hex > 0 {
			n /= 2
			padlen = width - n*2
		} else {
			padlen = width - n
		}
	} else {
		padlen = width - n
	}
	if align != '-' {
		b = appendRepeat(b, pad, padlen)
	}
	const lower, upper = "0123456789abcdef", "0123456789ABCDEF"
	switch hex {
	case 0:
		b = append(b, payload[:n]...)
	case 1:
		for _, c := range payload[:n] {
			b = append(b, lower[c>>4], lower[c&15])
		}
	case 2:
		for _, c := range payload[:n] {
			b = append(b, upper[c>>4], upper[c&15])
		}
	}
	if align == '-' {
		b = appendRepeat(b, ' ', max(padlen, -padlen))
	}
	return b
}

// appendMessageJSON is mosquitto's json_print with cJSON: the message as a
// JSON object, the payload a string (%j) or the payload's own JSON (%J).
// It reports false when the %J payload is not JSON.
func appendMessageJSON(b []byte, m *Message, now time.Time, escaped, pretty bool) ([]byte, bool) {
	// "%Y-%m-%dT%H:%M:%S.000000Z%z" with the microseconds filled in: the Z
	// before the offset is mosquitto's.
	tst := now.Format("2006-01-02T15:04:05.000000") + "Z" + now.Format("-0700")
	root := jsonValue{kind: jsonObject, kids: []jsonValue{
		{key: "tst", kind: jsonString, str: tst},
		{key: "topic", kind: jsonString, str: m.Topic},
		{key: "qos", kind: jsonNumber, num: float64(m.QoS)},
		{key: "retain", kind: jsonNumber, num: float64(boolInt(m.Retained))},
		{key: "payloadlen", kind: jsonNumber, num: float64(len(m.Payload))},
	}}
	if m.QoS > 0 {
		root.kids = append(root.kids, jsonValue{key: "mid", kind: jsonNumber, num: float64(m.MID)})
	}
	if m.Props != nil {
		root.kids = append(root.kids, propertiesJSON(m.Props))
	}
	payload := jsonValue{key: "payload", kind: jsonNull}
	if len(m.Payload) > 0 {
		if escaped {
			payload.kind, payload.str = jsonString, string(m.Payload)
		} else {
			v, ok := parseCJSON(m.Payload)
			if !ok {
				return b, false
			}
			v.key = "payload"
			payload = v
		}
	}
	root.kids = append(root.kids, payload)
	return root.appendTo(b, pretty, 0), true
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// propertiesJSON is the "properties" object mosquitto_sub 2.0 adds to %j
// and %J at MQTT 5.0. mosquitto lists the properties in the order they
// came; the client keeps no order, so they come in the order a mosquitto
// broker forwards what a publisher sent in identifier order (as mqtt-pub
// and the client do): the Message Expiry Interval, which the broker counts
// down, moves to the end. User Properties are one object, a name that
// repeats repeated in it, as cJSON builds it.
func propertiesJSON(ps *client.MessageProperties) jsonValue {
	obj := jsonValue{key: "properties", kind: jsonObject}
	num := func(key string, v int) {
		obj.kids = append(obj.kids, jsonValue{key: key, kind: jsonNumber, num: float64(v)})
	}
	str := func(key, v string) {
		obj.kids = append(obj.kids, jsonValue{key: key, kind: jsonString, str: v})
	}
	if ps.HasPayloadFormat {
		num("payload-format-indicator", boolInt(ps.PayloadUTF8))
	}
	if ps.ContentType != "" {
		str("content-type", ps.ContentType)
	}
	if ps.ResponseTopic != "" {
		str("response-topic", ps.ResponseTopic)
	}
	if ps.CorrelationData != nil {
		str("correlation-data", string(ps.CorrelationData))
	}
	if ps.TopicAlias != 0 {
		num("topic-alias", int(ps.TopicAlias))
	}
	if len(ps.UserProperties) > 0 {
		users := jsonValue{key: "user-properties", kind: jsonObject}
		for _, u := range ps.UserProperties {
			users.kids = append(users.kids, jsonValue{key: u.Key, kind: jsonString, str: u.Value})
		}
		obj.kids = append(obj.kids, users)
	}
	if ps.Expiry != 0 {
		num("message-expiry-interval", int(ps.Expiry/time.Second))
	}
	for _, id := range ps.SubscriptionIDs {
		num("subscription-identifier", int(id))
	}
	return obj
}
