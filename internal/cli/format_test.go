package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The message and the time of the format tests: Tuesday 5 March 2024,
// 14:07:09.123456789 in UTC+1 (13:07:09 UTC, Unix time 1709644029), day 65
// of the year, ISO week 10, week 09 counted from Sundays and 10 from
// Mondays.
var (
	testTime = time.Date(2024, 3, 5, 14, 7, 9, 123456789, time.FixedZone("CET", 3600))
	testMsg  = Message{Topic: "sensors/temp", Payload: []byte("21.5"), QoS: 1, Retained: true, MID: 7}
)

// TestFormat checks -F output against values worked out by hand from
// mosquitto's sub_client_output.c; cmd/mqtt-sub compares the same formats
// with mosquitto_sub on a real broker.
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   string
	}{
		{"%t %p", "sensors/temp 21.5"},
		{"%l|%5l|%-5l|%05l", "4|    4|4    |00004"},
		{"%m|%3m|%-3m|%q|%r", "7|  7|7  |1|1"},
		// The payload: a width cuts it too; no precision.
		{"%p|%2p|%-6p|%06p|%.1p|%8.1p", "21.5|21|21.5  |0021.5|21.5|    21.5"},
		// Left-aligned without a width: padded with as many spaces as the
		// payload is long (printf's "%*s" with a negative width).
		{"%-p|", "21.5    |"},
		// Hex: "21.5" is 32 31 2e 35; a width counts hex digits and keeps
		// width/2 bytes at most, and always halves the byte count.
		{"%x|%X|%10x|%-10X|%3x|%010x", "32312e35|32312E35|      3231|3231      | 32|0000003231"},
		{"%15t|%-15t|%.7t|%10.3t|%-05t", "   sensors/temp|sensors/temp   |sensors|       sen|sensors/temp"},
		{"%%|%5%|%-5q|%05r", "%|%|1|1"},
		// MQTT 5 properties are absent: blanks for the padded ones.
		{"%A|%3A|%03E|%2C|%D%P%R|%5S|%5R", "|   |000|  ||     |"},
		{`\\|\0|\a|\e|\n|\r|\t|\v`, "\\|\x00|\a|\x1b|\n|\r|\t|\v"},
		{"@Y-@m-@d @H:@M:@S.@N @z @Z @@", "2024-03-05 14:07:09.123456789 +0100 CET @"},
		{"@a @A @b @B @e @j @u @w @U @W @V @G @g @y @C @I @l @k @p @P",
			"Tue Tuesday Mar March  5 065 2 2 09 10 10 2024 24 24 20 02  2 14 PM pm"},
		{"@c|@D|@x|@X|@F|@T|@R|@r|@h|@n|@t|@%", "Tue Mar  5 14:07:09 2024|03/05/24|03/05/24|14:07:09|2024-03-05|14:07:09|14:07|02:07:09 PM|Mar|\n|\t|%"},
		{"@s|%U", "1709644029|1709644029.123456789"},
		{"%I|%.10I|%-26I|%26I", "2024-03-05T14:07:09+0100|2024-03-05|2024-03-05T14:07:09+0100  |  2024-03-05T14:07:09+0100"},
		// glibc copies conversions it does not know.
		{"@E@q@+", "%E%q%+"},
		{"%j", `{"tst":"2024-03-05T14:07:09.123456Z+0100","topic":"sensors/temp","qos":1,"retain":1,"payloadlen":4,"mid":7,"payload":"21.5"}`},
		{"%J", `{"tst":"2024-03-05T14:07:09.123456Z+0100","topic":"sensors/temp","qos":1,"retain":1,"payloadlen":4,"mid":7,"payload":21.5}`},
	} {
		t.Run(tc.format, func(t *testing.T) {
			require.NoError(t, CheckFormat(tc.format))
			p := Printer{Format: tc.format, EOL: true}
			assert.Equal(t, tc.want+"\n", string(p.Append(nil, &testMsg, testTime)))
			p.EOL = false
			assert.Equal(t, tc.want, string(p.Append(nil, &testMsg, testTime)))
		})
	}
}

func TestFormatJSON(t *testing.T) {
	m := testMsg
	m.Payload = []byte(`{"a":[1,{"b":null}],"c":"x"}`)
	p := Printer{Format: "%J", Pretty: true}
	want := "{\n" +
		"\t\"tst\":\t\"2024-03-05T14:07:09.123456Z+0100\",\n" +
		"\t\"topic\":\t\"sensors/temp\",\n" +
		"\t\"qos\":\t1,\n" +
		"\t\"retain\":\t1,\n" +
		"\t\"payloadlen\":\t28,\n" +
		"\t\"mid\":\t7,\n" +
		"\t\"payload\":\t{\n" +
		"\t\t\"a\":\t[1, {\n" +
		"\t\t\t\t\"b\":\tnull\n" +
		"\t\t\t}],\n" +
		"\t\t\"c\":\t\"x\"\n" +
		"\t}\n" +
		"}"
	assert.Equal(t, want, string(p.Append(nil, &m, testTime)))

	// QoS 0: no "mid"; empty payload: null; %j escapes.
	m = Message{Topic: "t\"", Payload: []byte("a\tb\x01\"\\/\xc3\xa9\x00z")}
	p = Printer{Format: "%j"}
	assert.Equal(t, `{"tst":"2024-03-05T14:07:09.123456Z+0100","topic":"t\"","qos":0,"retain":0,"payloadlen":11,"payload":"a\tb\u0001\"\\/`+"\xc3\xa9"+`"}`,
		string(p.Append(nil, &m, testTime)))
	m.Payload = nil
	assert.Contains(t, string(p.Append(nil, &m, testTime)), `"payloadlen":0,"payload":null}`)

	// %J on a payload that is not JSON: an error, and the rest of the line.
	var stderr bytes.Buffer
	m = Message{Topic: "t", Payload: []byte("not json")}
	p = Printer{Format: "<%J>", EOL: true, Errors: &stderr}
	assert.Equal(t, "<>\n", string(p.Append(nil, &m, testTime)))
	assert.Equal(t, "Error: Message payload is not valid JSON on topic t.\n", stderr.String())
}

func TestPlainAndVerbose(t *testing.T) {
	empty := Message{Topic: "a/b"}
	for _, tc := range []struct {
		name string
		p    Printer
		m    Message
		want string
	}{
		{"payload", Printer{EOL: true}, testMsg, "21.5\n"},
		{"payload -N", Printer{}, testMsg, "21.5"},
		{"empty payload prints nothing", Printer{EOL: true}, empty, ""},
		{"-v", Printer{Verbose: true, EOL: true}, testMsg, "sensors/temp 21.5\n"},
		{"-v -N", Printer{Verbose: true}, testMsg, "sensors/temp 21.5"},
		{"-v empty", Printer{Verbose: true, EOL: true}, empty, "a/b (null)\n"},
		{"-v -N empty", Printer{Verbose: true}, empty, ""},
		{"-F beats -v", Printer{Verbose: true, Format: "%p", EOL: true}, testMsg, "21.5\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			tc.p.RandomFilter = DefaultRandomFilter
			require.NoError(t, tc.p.Print(&out, &tc.m, testTime))
			assert.Equal(t, tc.want, out.String())
		})
	}
}

func TestRandomFilter(t *testing.T) {
	var out bytes.Buffer
	p := Printer{EOL: true, RandomFilter: 10} // 0.1 %
	for range 1000 {
		require.NoError(t, p.Print(&out, &testMsg, testTime))
	}
	assert.Less(t, strings.Count(out.String(), "\n"), 20)
	out.Reset()
	p.RandomFilter = 10000 // 100 %
	for range 1000 {
		require.NoError(t, p.Print(&out, &testMsg, testTime))
	}
	assert.Equal(t, 1000, strings.Count(out.String(), "\n"))
}

func TestCheckFormat(t *testing.T) {
	for format, want := range map[string]string{
		"%":       "Error: Incomplete format specifier.\n",
		"%-":      "Error: Incomplete format specifier.\n",
		"%10":     "Error: Incomplete format specifier.\n",
		"%1.":     "Error: Incomplete format specifier.\n",
		"%1.2":    "Error: Incomplete format specifier.\n",
		"x@":      "Error: Incomplete format specifier.\n",
		"%z":      "Error: Invalid format specifier 'z'.\n",
		"%0-p":    "Error: Invalid format specifier '-'.\n",
		"%-0p":    "",
		`\`:       "Error: Incomplete escape specifier.\n",
		`\z`:      "Error: Invalid escape specifier 'z'.\n",
		"%10.4p":  "",
		"@z\\e%%": "",
	} {
		err := CheckFormat(format)
		if want == "" {
			assert.NoError(t, err, format)
			continue
		}
		var ue *UsageError
		if assert.ErrorAs(t, err, &ue, format) {
			assert.Equal(t, want, ue.Msg, format)
			assert.True(t, ue.Hint)
		}
	}
}

// TestCJSON checks what %J accepts and how it prints it: cJSON's leniency
// (01, 1., white space up to byte 32, a byte order mark), its number format
// (%1.15g, else %1.17g), member order and duplicate keys, and strings cut
// at a NUL.
func TestCJSON(t *testing.T) {
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	for _, tc := range []struct {
		in, want string // want "" means not JSON
	}{
		{`[1.5, 1e10, 1e300, 0.1, -0, 1E2, 12345678901234567890, 1e999, 0.30000000000000004]`,
			`[1.5,10000000000,1e+300,0.1,-0,100,1.2345678901234567e+19,null,0.3]`},
		{`[01, 1., -1.5e-7, 123456.789e3, 5e-324, 0.0001, 0.00001, 1e15, 1e16]`,
			`[1,1,-1.5e-07,123456789,4.94065645841247e-324,0.0001,1e-05,1e+15,1e+16]`},
		{`{"a":1,"a":2,"b":{"c":[]},"d":{}}`, `{"a":1,"a":2,"b":{"c":[]},"d":{}}`},
		{`"\u00e9\/\b\f\n\r\t\"\\"`, "\"\xc3\xa9/\\b\\f\\n\\r\\t\\\"\\\\\""},
		{`"\ud83d\ude00"`, "\"\xf0\x9f\x98\x80\""},
		{`"a\u0000b"`, `"a"`},
		{`"\uzzzz!"`, `""`}, // a bad hex digit reads as \u0000, which ends the string
		{"\xef\xbb\xbf \x01[ true , false,null ]\t\n", `[true,false,null]`},
		{"\"raw\x01\x7f\"", `"raw\u0001` + "\x7f\""},
		{deep, deep},
		{`{"a":1`, ""},
		{`"\x"`, ""},
		{`+1`, ""},
		{`.5`, ""},
		{`-`, ""},
		{`[1,]`, ""},
		{`nul`, ""},
		{`1 2`, ""},
		{`1e`, ""},
		{`"\udc00"`, ""},
		{`"\ud800x"`, ""},
		{`{"a" 1}`, ""},
		{`{1:2}`, ""},
		{"1\x00", ""},
		{"[" + deep + "]", ""},
	} {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			v, ok := parseCJSON([]byte(tc.in))
			if tc.want == "" {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tc.want, string(v.appendTo(nil, false, 0)))
		})
	}
}

func TestFormatG(t *testing.T) {
	for _, tc := range []struct {
		d    float64
		prec int
		want string
	}{
		{1e10, 15, "10000000000"},
		{123456789012345680000, 15, "1.23456789012346e+20"},
		{0.0001, 15, "0.0001"},
		{0.00001234, 15, "1.234e-05"},
		{-2.5, 15, "-2.5"},
		{0.1, 17, "0.10000000000000001"},
		{100, 1, "1e+02"},
	} {
		assert.Equal(t, tc.want, formatG(tc.d, tc.prec), "%v %%.%dg", tc.d, tc.prec)
	}
}
