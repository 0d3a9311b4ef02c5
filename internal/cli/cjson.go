package cli

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reproduces what cJSON 1.7 (the JSON library mosquitto_sub 2.0
// links) accepts and prints, for %j and %J: encoding/json would reject
// payloads mosquitto_sub prints (such as 01 or +1 inside a number), would
// lose the order of object members and duplicate keys, and prints numbers
// and escapes differently.

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is a parsed JSON value, in the shape cJSON keeps it.
type jsonValue struct {
	kind jsonKind
	key  string // member name inside an object
	num  float64
	str  string      // may hold NUL bytes; cJSON's C strings end at the first
	kids []jsonValue // array elements or object members, in order
}

// cjsonNestingLimit is CJSON_NESTING_LIMIT.
const cjsonNestingLimit = 1000

// cjsonParser is cJSON's parse_buffer over the payload and the NUL byte
// mosquitto stores after it.
type cjsonParser struct {
	b     []byte
	off   int
	depth int
}

// parseCJSON parses a %J payload as mosquitto does: cJSON_ParseWithOpts
// requiring nothing but white space after the value, on the payload as a C
// string, which must end where the payload ends.
func parseCJSON(payload []byte) (jsonValue, bool) {
	if bytes.IndexByte(payload, 0) >= 0 {
		return jsonValue{}, false
	}
	p := &cjsonParser{b: append(append(make([]byte, 0, len(payload)+1), payload...), 0)}
	if p.canAccess(4) && bytes.HasPrefix(p.b, []byte("\xEF\xBB\xBF")) {
		p.off = 3 // skip_utf8_bom
	}
	p.skipSpace()
	v, ok := p.value()
	if !ok {
		return jsonValue{}, false
	}
	p.skipSpace()
	if p.off >= len(p.b) || p.b[p.off] != 0 {
		return jsonValue{}, false
	}
	return v, true
}

func (p *cjsonParser) canAccess(i int) bool { return p.off+i < len(p.b) }
func (p *cjsonParser) canRead(n int) bool   { return p.off+n <= len(p.b) }

// skipSpace is buffer_skip_whitespace: every byte up to 32 is white space.
func (p *cjsonParser) skipSpace() {
	if !p.canAccess(0) {
		return
	}
	for p.canAccess(0) && p.b[p.off] <= 32 {
		p.off++
	}
	if p.off == len(p.b) {
		p.off--
	}
}

func (p *cjsonParser) value() (jsonValue, bool) {
	rest := p.b[p.off:]
	switch {
	case p.canRead(4) && string(rest[:4]) == "null":
		p.off += 4
		return jsonValue{kind: jsonNull}, true
	case p.canRead(5) && string(rest[:5]) == "false":
		p.off += 5
		return jsonValue{kind: jsonFalse}, true
	case p.canRead(4) && string(rest[:4]) == "true":
		p.off += 4
		return jsonValue{kind: jsonTrue}, true
	}
	if !p.canAccess(0) {
		return jsonValue{}, false
	}
	switch c := rest[0]; {
	case c == '"':
		s, ok := p.string()
		return jsonValue{kind: jsonString, str: s}, ok
	case c == '-' || isDigit(c):
		return p.number()
	case c == '[':
		return p.container(jsonArray, ']')
	case c == '{':
		return p.container(jsonObject, '}')
	}
	return jsonValue{}, false
}

// number is parse_number: up to 63 characters that may belong to a number,
// read by strtod.
func (p *cjsonParser) number() (jsonValue, bool) {
	i := 0
	for ; i < 63 && p.canAccess(i); i++ {
		c := p.b[p.off+i]
		if !isDigit(c) && c != '+' && c != '-' && c != 'e' && c != 'E' && c != '.' {
			break
		}
	}
	s := string(p.b[p.off : p.off+i])
	n := floatPrefix(s)
	if n == 0 {
		return jsonValue{}, false
	}
	// Out of range, ParseFloat returns ±Inf as strtod returns HUGE_VAL.
	f, _ := strconv.ParseFloat(s[:n], 64)
	p.off += n
	return jsonValue{kind: jsonNumber, num: f}, true
}

// string is parse_string, at the opening quote.
func (p *cjsonParser) string() (string, bool) {
	if !p.canAccess(0) || p.b[p.off] != '"' {
		return "", false
	}
	end := p.off + 1
	for end < len(p.b) && p.b[end] != '"' {
		if p.b[end] == '\\' {
			if end+1 >= len(p.b) {
				return "", false
			}
			end++
		}
		end++
	}
	if end >= len(p.b) || p.b[end] != '"' {
		return "", false
	}
	var out []byte
	for i := p.off + 1; i < end; {
		if p.b[i] != '\\' {
			out = append(out, p.b[i])
			i++
			continue
		}
		switch c := p.b[i+1]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '"', '\\', '/':
			out = append(out, c)
		case 'u':
			n := utf16Literal(p.b[i:end], &out)
			if n == 0 {
				return "", false
			}
			i += n
			continue
		default:
			return "", false
		}
		i += 2
	}
	p.off = end + 1
	return string(out), true
}

// utf16Literal is utf16_literal_to_utf8: one \uXXXX, or two for a
// surrogate pair, appended to out as UTF-8. It returns how many bytes it
// read, 0 on error.
func utf16Literal(in []byte, out *[]byte) int {
	if len(in) < 6 {
		return 0
	}
	first := hex4(in[2:6])
	if first >= 0xDC00 && first <= 0xDFFF {
		return 0
	}
	code, n := first, 6
	if first >= 0xD800 && first <= 0xDBFF {
		second := in[6:]
		if len(second) < 6 || second[0] != '\\' || second[1] != 'u' {
			return 0
		}
		low := hex4(second[2:6])
		if low < 0xDC00 || low > 0xDFFF {
			return 0
		}
		code, n = 0x10000+((first&0x3FF)<<10|low&0x3FF), 12
	}
	*out = utf8.AppendRune(*out, rune(code))
	return n
}

// hex4 is parse_hex4: a bad digit makes the whole value 0.
func hex4(in []byte) uint32 {
	var h uint32
	for _, c := range in[:4] {
		switch {
		case c >= '0' && c <= '9':
			h = h<<4 | uint32(c-'0')
		case c >= 'A' && c <= 'F':
			h = h<<4 | uint32(c-'A'+10)
		case c >= 'a' && c <= 'f':
			h = h<<4 | uint32(c-'a'+10)
		default:
			return 0
		}
	}
	return h
}

// container is parse_array and parse_object, at the opening bracket.
func (p *cjsonParser) container(kind jsonKind, closing byte) (jsonValue, bool) {
	v := jsonValue{kind: kind}
	if p.depth >= cjsonNestingLimit {
		return v, false
	}
	p.depth++
	p.off++
	p.skipSpace()
	if p.canAccess(0) && p.b[p.off] == closing {
		p.depth--
		p.off++
		return v, true
	}
	if !p.canAccess(0) {
		return v, false
	}
	p.off--
	for {
		p.off++
		p.skipSpace()
		var key string
		if kind == jsonObject {
			k, ok := p.string()
			if !ok {
				return v, false
			}
			p.skipSpace()
			if !p.canAccess(0) || p.b[p.off] != ':' {
				return v, false
			}
			p.off++
			p.skipSpace()
			key = k
		}
		kid, ok := p.value()
		if !ok {
			return v, false
		}
		kid.key = key
		v.kids = append(v.kids, kid)
		p.skipSpace()
		if !p.canAccess(0) || p.b[p.off] != ',' {
			break
		}
	}
	if !p.canAccess(0) || p.b[p.off] != closing {
		return v, false
	}
	p.depth--
	p.off++
	return v, true
}

// appendTo prints v as cJSON_PrintUnformatted, or cJSON_Print with pretty:
// members on lines of their own indented by tabs, a tab after the colon,
// and array elements on one line separated by ", ".
func (v *jsonValue) appendTo(b []byte, pretty bool, depth int) []byte {
	switch v.kind {
	case jsonNull:
		return append(b, "null"...)
	case jsonFalse:
		return append(b, "false"...)
	case jsonTrue:
		return append(b, "true"...)
	case jsonNumber:
		return append(b, cjsonNumber(v.num)...)
	case jsonString:
		return appendCJSONString(b, v.str)
	case jsonArray:
		b = append(b, '[')
		for i := range v.kids {
			if i > 0 {
				b = append(b, ',')
				if pretty {
					b = append(b, ' ')
				}
			}
			b = v.kids[i].appendTo(b, pretty, depth+1)
		}
		return append(b, ']')
	}
	depth++
	b = append(b, '{')
	if pretty {
		b = append(b, '\n')
	}
	for i := range v.kids {
		if pretty {
			b = appendRepeat(b, '\t', depth)
		}
		b = appendCJSONString(b, v.kids[i].key)
		b = append(b, ':')
		if pretty {
			b = append(b, '\t')
		}
		b = v.kids[i].appendTo(b, pretty, depth)
		if i < len(v.kids)-1 {
			b = append(b, ',')
		}
		if pretty {
			b = append(b, '\n')
		}
	}
	if pretty {
		b = appendRepeat(b, '\t', depth-1)
	}
	return append(b, '}')
}

// appendCJSONString is print_string_ptr: the string up to its first NUL,
// quoted, with '"', '\\' and the control characters escaped and every other
// byte as it is.
func appendCJSONString(b []byte, s string) []byte {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 32 {
				b = fmt.Appendf(b, "\\u%04x", c)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// cjsonNumber is print_number: C's %1.15g, or %1.17g when reading that back
// does not give the number within DBL_EPSILON; null for NaN and infinities.
func cjsonNumber(d float64) string {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return "null"
	}
	s := formatG(d, 15)
	if test, err := strconv.ParseFloat(s, 64); err != nil || !compareDouble(test, d) {
		s = formatG(d, 17)
	}
	return s
}

func compareDouble(a, b float64) bool {
	return math.Abs(a-b) <= math.Max(math.Abs(a), math.Abs(b))*0x1p-52
}

// formatG is C's printf("%.<prec>g", d): prec significant digits, exponent
// notation when the exponent is below -4 or at least prec, trailing zeros
// removed. Go's %g chooses the notation differently.
func formatG(d float64, prec int) string {
	if d == 0 {
		if math.Signbit(d) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(d, 'e', prec-1, 64)
	at := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[at+1:])
	if exp < -4 || exp >= prec {
		return trimFraction(e[:at]) + e[at:]
	}
	return trimFraction(strconv.FormatFloat(d, 'f', prec-1-exp, 64))
}

// trimFraction removes trailing zeros after a decimal point, and the point
// when nothing is left after it.
func trimFraction(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
