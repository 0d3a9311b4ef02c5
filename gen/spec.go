package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/token"
	"os"
)

// Spec is the declarative description of a protocol's control packets, as
// read from packets/spec/*.json. The format describes packets as ordered
// fields of a few wire kinds plus conditions and checks, so that a later
// revision (MQTT 5.0 properties, reason codes, AUTH) adds kinds and packets
// without changing what is already here.
type Spec struct {
	Title string `json:"title"`
	// CheckSets names lists of checks that several fields share, such as
	// the rules every topic filter obeys. A check {"set": name} in a
	// field's list stands for the set's checks, in order.
	CheckSets map[string][]*Check `json:"checkSets"`
	Enums     []*Enum             `json:"enums"`
	Structs   []*Struct           `json:"structs"`
	Packets   []*Packet           `json:"packets"`

	// Properties is the MQTT 5.0 property table (§2.2.2.2): it drives the
	// Properties type and the properties fields of packets.
	Properties []*Property `json:"properties"`

	// ReasonSets name the reason codes each packet may carry (§2.4).
	ReasonSets []*ReasonSet `json:"reasonSets"`

	contexts map[string]bool // property contexts named by the table
	reasons  map[string]bool // reason set names
}

// Property is one row of the property table.
type Property struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`  // the Go field and the PropertyID suffix
	Field string `json:"field"` // the Go field when it differs (a slice's plural)
	Title string `json:"title"` // the standard's name, for String
	Type  string `json:"type"`  // byte, uint16, uint32, varint, string, binary, stringPair
	Doc   string `json:"doc"`
	// In lists the contexts (packet names, or "Will") that allow the
	// property; Repeat those where it may appear more than once.
	In     []string `json:"in"`
	Repeat []string `json:"repeat"`
	// NonZero and Bool are value rules whose breach is a Protocol Error;
	// ValueRule names the statement or section.
	NonZero   bool     `json:"nonZero"`
	Bool      bool     `json:"bool"`
	ValueRule string   `json:"valueRule"`
	Max       int      `json:"max"` // varint maximum, 0 for none
	Sensitive bool     `json:"sensitive"`
	Checks    []*Check `json:"checks"` // string checks, with rule5 IDs
	// Trim orders what an encoder leaves out to fit a size budget: the
	// properties with Trim 1 go first, then those with Trim 2.
	Trim int `json:"trim"`
	// Requires names a property that must be present with this one;
	// RequiresRule is the statement or section.
	Requires     string `json:"requires"`
	RequiresRule string `json:"requiresRule"`
}

// Go field name of a property.
func (pr *Property) goName() string {
	if pr.Field != "" {
		return pr.Field
	}
	return pr.Name
}

// repeatable reports whether the property is held in a slice: it may repeat
// in at least one context.
func (pr *Property) repeatable() bool { return len(pr.Repeat) > 0 }

// Property value types.
var propertyTypes = map[string]bool{
	"byte": true, "uint16": true, "uint32": true, "varint": true,
	"string": true, "binary": true, "stringPair": true,
}

// ReasonSet is the set of ReasonCode values valid in some packets.
type ReasonSet struct {
	Name    string   `json:"name"`
	Doc     string   `json:"doc"`
	Packets []string `json:"packets"` // Type values
	Codes   []string `json:"codes"`   // ReasonCode value names
}

// Versions scopes a spec element to protocol levels: 3 (MQTT 3.1), 4 (MQTT
// 3.1.1) and 5 (MQTT 5.0). Empty means every level. 3.1 and 3.1.1 share
// their packet format, so a scope is empty, [3, 4] or [5].
type Versions []int

// has reports whether the scope includes level v.
func (vs Versions) has(v int) bool {
	if len(vs) == 0 {
		return true
	}
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// v3 and v5 report whether the scope includes MQTT 3.x and MQTT 5.0.
func (vs Versions) v3() bool { return vs.has(4) }
func (vs Versions) v5() bool { return vs.has(5) }

func (vs Versions) validate(where string) error {
	switch {
	case len(vs) == 0:
	case len(vs) == 1 && vs[0] == 5:
	case len(vs) == 2 && vs[0] == 3 && vs[1] == 4:
	default:
		return fmt.Errorf("%s: versions must be [3, 4] or [5], or left out for all", where)
	}
	return nil
}

// Enum is a named byte-sized type with a fixed set of valid values.
type Enum struct {
	Name   string       `json:"name"`
	Doc    string       `json:"doc"`
	Values []*EnumValue `json:"values"`
}

// EnumValue is one valid value of an Enum.
type EnumValue struct {
	Versions Versions `json:"versions"`
	Name     string   `json:"name"`
	Alias    bool     `json:"alias"` // a second name for the number of the value before it
	Value    int      `json:"value"`
	String   string   `json:"string"`
	Doc      string   `json:"doc"`
}

// Struct is a group of fields repeated in a list, such as SUBSCRIBE's
// filter and QoS pairs.
type Struct struct {
	Name   string   `json:"name"`
	Doc    string   `json:"doc"`
	Fields []*Field `json:"fields"`
	// Constraints relate fields of one element, checked for each.
	Constraints []*Constraint `json:"constraints"`
}

// Packet is one control packet.
type Packet struct {
	Versions    Versions      `json:"versions"`
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Section     string        `json:"section"`
	Doc         string        `json:"doc"`
	Flags       Flags         `json:"flags"`
	Fields      []*Field      `json:"fields"`
	Constraints []*Constraint `json:"constraints"`
}

// Flags describes the low nibble of the fixed header: either a fixed value
// or named bits.
type Flags struct {
	Value *int   `json:"value"`
	Rule  string `json:"rule"`
	Rule5 string `json:"rule5"` // the MQTT 5.0 rule, when the packet exists in both
	Bits  []*Bit `json:"bits"`
}

// Field kinds.
const (
	kindVarint     = "varint"     // variable byte integer (MQTT 5.0 §1.5.5)
	kindUint32     = "uint32"     // four bytes, big-endian (MQTT 5.0 §1.5.3)
	kindProperties = "properties" // MQTT 5.0 properties block (§2.2.2)
	kindUint8      = "uint8"      // one byte, optionally of an enum type
	kindUint16     = "uint16"     // two bytes, big-endian
	kindString     = "string"     // two-byte length, UTF-8 (§1.5.3)
	kindBinary     = "binary"     // two-byte length, raw bytes
	kindBits       = "bits"       // one byte split into named bits
	kindRest       = "rest"       // everything to the end of the packet
	kindList       = "list"       // repeated element to the end of the packet
)

// Field is one element of a variable header or payload.
type Field struct {
	Versions    Versions `json:"versions"`
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Type        string   `json:"type"` // enum type of a uint8 field or uint8 list element
	Of          string   `json:"of"`   // list element: a struct name, "string" or "uint8"
	Doc         string   `json:"doc"`
	Sensitive   bool     `json:"sensitive"`
	Present     *Cond    `json:"present"`
	AbsentRule  string   `json:"absentRule"`
	AbsentRule5 string   `json:"absentRule5"`
	Checks      []*Check `json:"checks"`
	Bits        []*Bit   `json:"bits"`
	Min         int      `json:"min"`
	MinRule     string   `json:"minRule"`
	MinRule5    string   `json:"minRule5"`
	// Optional marks a trailing field present only when bytes remain, as
	// the reason code and properties of the MQTT 5.0 acks; the encoder
	// leaves out the longest run of such fields that hold their defaults.
	Optional bool `json:"optional"`
	// Context names the property table context of a properties field.
	Context string `json:"context"`
	// SetsVersion marks CONNECT's protocol level: the packet carries its
	// own version.
	SetsVersion bool `json:"setsVersion"`
}

// Bit is a named bit field, or reserved bits with a required value.
type Bit struct {
	Versions Versions `json:"versions"`
	Name     string   `json:"name"`
	Reserved *int     `json:"reserved"`
	Bit      int      `json:"bit"`
	Width    int      `json:"width"`
	Type     string   `json:"type"` // "bool" or an enum
	Doc      string   `json:"doc"`
	Rule     string   `json:"rule"`
	Rule5    string   `json:"rule5"`
	Checks   []*Check `json:"checks"`
}

// Check names a validation helper and the conformance statement it enforces.
//
// Rule is the statement of MQTT 3.1 and 3.1.1 ("MQTT-3.3.2-2") and Rule5 the
// one of MQTT 5.0 ("MQTT5-3.3.2-2"): the standards reuse numbers with other
// meanings, so a 5.0 rule is always written with its own prefix. Set names a
// check set to expand in place of this entry.
type Check struct {
	Set      string   `json:"set"`
	Versions Versions `json:"versions"`
	Check    string   `json:"check"`
	Rule     string   `json:"rule"`
	Rule5    string   `json:"rule5"`
	// Reasons names the reason set of a "reason" check.
	Reasons   string `json:"reasons"`
	versioned bool   // an enum check of an enum with values of one version

	// Protocol marks a check whose breach, on receipt, is a Protocol Error
	// (MQTT 5.0 reason code 0x82) rather than a Malformed Packet (0x81).
	Protocol bool `json:"protocol"`
}

// Constraint is a rule across fields: when When holds, Require must hold.
type Constraint struct {
	Versions Versions `json:"versions"`
	Protocol bool     `json:"protocol"` // on receipt a Protocol Error (0x82), not malformed
	Rule     string   `json:"rule"`
	Rule5    string   `json:"rule5"`
	Field    string   `json:"field"`
	Reason   string   `json:"reason"`
	When     *Cond    `json:"when"`
	Require  *Cond    `json:"require"`
}

// payload returns the packet's last field when it is a payload no rule
// constrains: of kind rest, always present, without checks, and named by no
// condition or constraint. Its value cannot make a packet malformed, so a
// Reader can decode the fields before it and discard it unread; gen marks
// such packets with a headerString method. It returns nil otherwise.
func (p *Packet) payload() *Field {
	if len(p.Fields) == 0 {
		return nil
	}
	pl := p.Fields[len(p.Fields)-1]
	if pl.Kind != kindRest || pl.Present != nil || len(pl.Checks) > 0 {
		return nil
	}
	names := func(c *Cond) bool { return c != nil && c.Field == pl.Name }
	for _, fd := range p.Fields {
		if names(fd.Present) {
			return nil
		}
	}
	for _, c := range p.Constraints {
		if c.Field == pl.Name || names(c.When) || names(c.Require) {
			return nil
		}
	}
	return pl
}

// Cond is a test on one field: Is "set"/"unset", or equality with Eq or Ne
// (a number, or a string for string fields).
type Cond struct {
	Field  string `json:"field"`
	Is     string `json:"is"`
	Eq     any    `json:"eq"`
	Ne     any    `json:"ne"`
	Prefix string `json:"prefix"` // a string field starts with it; in "when" only
}

// checkHelpers maps the check names a spec may use to the hand-written
// helpers in packets/wire.go and packets/validate.go, and the Go kinds they
// accept. A check the generator does not know is an error, not a silent skip.
var checkHelpers = map[string]struct {
	fn     string
	kinds  []string
	decode bool // false: cannot fail on decoded input, so decode skips it
}{
	"utf8":          {"checkUTF8", []string{kindString}, true},
	"noNull":        {"checkNoNull", []string{kindString}, true},
	"nonEmpty":      {"checkNonEmpty", []string{kindString}, true},
	"noWildcards":   {"checkNoWildcards", []string{kindString}, true},
	"hashPlacement": {"checkHashPlacement", []string{kindString}, true},
	"plusPlacement": {"checkPlusPlacement", []string{kindString}, true},
	"shareName":     {"checkShareName", []string{kindString}, true},
	"sharedFilter":  {"checkSharedFilter", []string{kindString}, true},
	"maxLen":        {"checkLen16", []string{kindString, kindBinary}, false},
	"nonZero":       {"checkNonZero", []string{kindUint16}, true},
	"enum":          {"checkEnum", []string{kindUint8, "enumBits"}, true},
	"reason":        {"checkEnum", []string{kindUint8}, true},
	"varint":        {"checkVarint", []string{kindVarint}, false},
}

// loadSpec reads a spec strictly: unknown keys and trailing data are errors.
func loadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSpec(path, data)
}

func parseSpec(name string, data []byte) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the top-level object", name)
	}
	if err := s.expandCheckSets(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

// validate checks the references and shapes the renderer relies on, so that
// a mistake in the spec is reported here rather than as broken Go.
func (s *Spec) validate() error {
	names := map[string]string{}
	declare := func(name, what string) error {
		if !token.IsIdentifier(name) || !token.IsExported(name) {
			return fmt.Errorf("%s %q is not an exported Go identifier", what, name)
		}
		if prev, ok := names[name]; ok {
			return fmt.Errorf("%s %q already declared as %s", what, name, prev)
		}
		names[name] = what
		return nil
	}
	enums := map[string]*Enum{}
	for _, e := range s.Enums {
		if err := declare(e.Name, "enum"); err != nil {
			return err
		}
		if len(e.Values) == 0 {
			return fmt.Errorf("enum %s has no values", e.Name)
		}
		seen := map[int]bool{}
		for _, v := range e.Values {
			if v.Alias {
				if err := declare(v.Name, "enum value"); err != nil {
					return err
				}
				if !seen[v.Value] {
					return fmt.Errorf("enum %s: alias %s must follow the value it renames", e.Name, v.Name)
				}
				continue
			}
			if err := declare(v.Name, "enum value"); err != nil {
				return err
			}
			if err := v.Versions.validate("enum value " + v.Name); err != nil {
				return err
			}
			if v.Value < 0 || v.Value > 255 || seen[v.Value] {
				return fmt.Errorf("enum %s: value %s=%d is out of byte range or repeated", e.Name, v.Name, v.Value)
			}
			seen[v.Value] = true
		}
		enums[e.Name] = e
	}
	for _, name := range []string{"Type", "ProtocolLevel", "ReasonCode"} {
		if enums[name] == nil {
			return fmt.Errorf("the spec must declare enum %s: the runtime of package packets uses it", name)
		}
	}
	if err := s.validateProperties(names); err != nil {
		return err
	}
	s.reasons = map[string]bool{}
	for _, rs := range s.ReasonSets {
		if rs.Name == "" || s.reasons[rs.Name] || rs.Doc == "" || len(rs.Codes) == 0 || len(rs.Packets) == 0 {
			return fmt.Errorf("reason set %q needs a unique name, a doc, packets and codes", rs.Name)
		}
		s.reasons[rs.Name] = true
		if enums["ReasonCode"] == nil {
			return fmt.Errorf("reason set %s: the spec declares no enum ReasonCode", rs.Name)
		}
		for _, c := range rs.Codes {
			if enumValue(enums["ReasonCode"], c) == nil {
				return fmt.Errorf("reason set %s: %q is not a ReasonCode value", rs.Name, c)
			}
		}
		for _, t := range rs.Packets {
			if enumValue(enums["Type"], t) == nil {
				return fmt.Errorf("reason set %s: %q is not a Type value", rs.Name, t)
			}
		}
	}
	structs := map[string]*Struct{}
	for _, st := range s.Structs {
		if err := declare(st.Name, "struct"); err != nil {
			return err
		}
		if err := s.validateFields("struct "+st.Name, st.Fields, enums, nil, false); err != nil {
			return err
		}
		kinds := structKinds(st)
		for _, c := range st.Constraints {
			w := "struct " + st.Name + " constraint " + c.Rule
			if err := c.Versions.validate(w); err != nil {
				return err
			}
			if c.Rule == "" || c.Reason == "" || c.When == nil || c.Require == nil || c.Require.Prefix != "" {
				return fmt.Errorf("%s: a constraint needs rule, reason, when and a require without prefix", w)
			}
			for _, cond := range []*Cond{c.When, c.Require} {
				k, ok := kinds[cond.Field]
				if !ok {
					return fmt.Errorf("%s: condition names unknown field %q", w, cond.Field)
				}
				if cond.Prefix != "" && k != kindString {
					return fmt.Errorf("%s: prefix applies to strings", w)
				}
			}
			if _, ok := kinds[c.Field]; !ok {
				return fmt.Errorf("%s: constraint names unknown field %q", w, c.Field)
			}
		}
		structs[st.Name] = st
	}
	typeValues := map[string]bool{}
	for _, v := range enums["Type"].Values {
		typeValues[v.Name] = true
	}
	usedTypes := map[string]bool{}
	for _, p := range s.Packets {
		if err := declare(p.Name, "packet"); err != nil {
			return err
		}
		if !typeValues[p.Type] || usedTypes[p.Type] {
			return fmt.Errorf("packet %s: type %q is not a Type value or is used twice", p.Name, p.Type)
		}
		usedTypes[p.Type] = true
		where := "packet " + p.Name
		if err := p.Versions.validate(where); err != nil {
			return err
		}
		if (p.Flags.Value == nil) == (p.Flags.Bits == nil) {
			return fmt.Errorf("%s: flags need exactly one of value and bits", where)
		}
		if p.Flags.Value != nil && (*p.Flags.Value < 0 || *p.Flags.Value > 15 || p.Flags.Rule == "") {
			return fmt.Errorf("%s: flags value must be 0..15 and carry a rule", where)
		}
		if err := validateBits(where+" flags", p.Flags.Bits, 4, enums); err != nil {
			return err
		}
		for _, f := range p.Fields {
			if len(f.Versions) == 0 {
				f.Versions = p.Versions // a field exists where its packet does
			}
		}
		if err := s.validateFields(where, p.Fields, enums, structs, true); err != nil {
			return err
		}
		fields := goFields(p)
		for i, f := range p.Fields {
			if f.Present != nil {
				if err := validateCond(where+" field "+f.Name, f.Present, fields, p.Fields[:i], p.Flags.Bits); err != nil {
					return err
				}
			}
		}
		for _, c := range p.Constraints {
			if err := c.Versions.validate(where + " constraint " + c.Rule); err != nil {
				return err
			}
			if c.Rule == "" || c.Reason == "" || c.When == nil || c.Require == nil {
				return fmt.Errorf("%s: a constraint needs rule, reason, when and require", where)
			}
			if _, ok := fields[c.Field]; !ok {
				return fmt.Errorf("%s: constraint names unknown field %q", where, c.Field)
			}
			for _, cond := range []*Cond{c.When, c.Require} {
				if err := validateCond(where+" constraint "+c.Rule, cond, fields, p.Fields, p.Flags.Bits); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Spec) validateFields(where string, fields []*Field, enums map[string]*Enum, structs map[string]*Struct, inPacket bool) error {
	seen := map[string]bool{}
	// last reports whether f is the last field of every version it exists in.
	last := func(i int) bool {
		for _, g := range fields[i+1:] {
			if (g.Versions.v3() && fields[i].Versions.v3()) || (g.Versions.v5() && fields[i].Versions.v5()) {
				return false
			}
		}
		return true
	}
	// trailing reports whether only optional fields follow f in its versions.
	trailing := func(i int) bool {
		for _, g := range fields[i+1:] {
			if !g.Optional && ((g.Versions.v3() && fields[i].Versions.v3()) || (g.Versions.v5() && fields[i].Versions.v5())) {
				return false
			}
		}
		return true
	}
	for i, f := range fields {
		w := where + " field " + f.Name
		if err := f.Versions.validate(w); err != nil {
			return err
		}
		if !token.IsIdentifier(f.Name) || !token.IsExported(f.Name) || seen[f.Name] {
			return fmt.Errorf("%s: bad or repeated name", w)
		}
		seen[f.Name] = true
		if f.Doc == "" {
			return fmt.Errorf("%s: doc is required", w)
		}
		if f.Type != "" && enums[f.Type] == nil {
			return fmt.Errorf("%s: unknown enum %q", w, f.Type)
		}
		checkKind := f.Kind
		switch f.Kind {
		case kindUint8:
		case kindUint16, kindString, kindBinary, kindVarint, kindUint32:
			if f.Type != "" {
				return fmt.Errorf("%s: only uint8 fields take an enum type", w)
			}
		case kindBits:
			if err := validateBits(w, f.Bits, 8, enums); err != nil {
				return err
			}
			if len(f.Checks) > 0 {
				return fmt.Errorf("%s: checks of bits belong on the bits", w)
			}
		case kindProperties:
			if !s.contexts[f.Context] || !inPacket || len(f.Checks) > 0 {
				return fmt.Errorf("%s: properties need a context of the property table, and no checks", w)
			}
		case kindRest, kindList:
			if !last(i) || !inPacket {
				return fmt.Errorf("%s: %s must be the last field of a packet", w, f.Kind)
			}
			if f.Kind == kindList {
				switch {
				case f.Of == kindString:
					checkKind = kindString
				case f.Of == kindUint8:
					checkKind = kindUint8
				case structs[f.Of] != nil:
					if len(f.Checks) > 0 {
						return fmt.Errorf("%s: checks of struct elements belong on the struct", w)
					}
				default:
					return fmt.Errorf("%s: list of unknown element %q", w, f.Of)
				}
				if f.Min > 0 && f.MinRule == "" {
					return fmt.Errorf("%s: min needs minRule", w)
				}
			}
		default:
			return fmt.Errorf("%s: unknown kind %q", w, f.Kind)
		}
		if f.Kind != kindProperties && f.Context != "" {
			return fmt.Errorf("%s: context belongs to properties", w)
		}
		if f.Optional && (!inPacket || f.Present != nil || !trailing(i) || !f.Versions.v5() || f.Versions.v3()) {
			return fmt.Errorf("%s: optional fields are MQTT 5.0 packet fields, trailing, without present", w)
		}
		if f.SetsVersion && (f.Kind != kindUint8 || f.Type != "ProtocolLevel" || !inPacket) {
			return fmt.Errorf("%s: setsVersion belongs to a ProtocolLevel byte", w)
		}
		for _, c := range f.Checks {
			if c.Check == "enum" && enums[f.Type] != nil && versioned(enums[f.Type]) {
				c.versioned = true
			}
			if c.Check == "reason" && (f.Type != "ReasonCode" || !s.reasons[c.Reasons]) {
				return fmt.Errorf("%s: a reason check needs a ReasonCode field and a known reason set", w)
			}
		}
		if (f.Kind != kindList) && (f.Of != "" || f.Min != 0 || f.MinRule != "") {
			return fmt.Errorf("%s: of/min/minRule belong to lists", w)
		}
		if f.Present != nil && (!inPacket || f.AbsentRule == "") {
			return fmt.Errorf("%s: present needs absentRule and is allowed in packets only", w)
		}
		if f.Present == nil && f.AbsentRule != "" {
			return fmt.Errorf("%s: absentRule without present", w)
		}
		if checkKind == kindUint8 && f.Type == "" && len(f.Checks) > 0 {
			return fmt.Errorf("%s: plain bytes have no checks", w)
		}
		if err := validateChecks(w, f.Checks, checkKind); err != nil {
			return err
		}
	}
	return nil
}

func validateBits(where string, bits []*Bit, width int, enums map[string]*Enum) error {
	var used3, used5 uint // bits used in MQTT 3.x and in 5.0
	for _, b := range bits {
		if err := b.Versions.validate(where); err != nil {
			return err
		}
		if b.Width == 0 {
			b.Width = 1
		}
		if b.Bit < 0 || b.Width < 1 || b.Bit+b.Width > width {
			return fmt.Errorf("%s: bits %d+%d do not fit in %d", where, b.Bit, b.Width, width)
		}
		mask := uint(1<<b.Width-1) << b.Bit
		if (b.Versions.v3() && used3&mask != 0) || (b.Versions.v5() && used5&mask != 0) {
			return fmt.Errorf("%s: bit %d overlaps another", where, b.Bit)
		}
		if b.Versions.v3() {
			used3 |= mask
		}
		if b.Versions.v5() {
			used5 |= mask
		}
		if b.Reserved != nil {
			if b.Name != "" || b.Rule == "" || *b.Reserved < 0 || *b.Reserved >= 1<<b.Width {
				return fmt.Errorf("%s: reserved bits at %d need a rule, a value that fits, and no name", where, b.Bit)
			}
			continue
		}
		if !token.IsIdentifier(b.Name) || !token.IsExported(b.Name) || b.Doc == "" {
			return fmt.Errorf("%s: bit %d needs an exported name and a doc", where, b.Bit)
		}
		switch {
		case b.Type == "bool":
			if b.Width != 1 || len(b.Checks) > 0 {
				return fmt.Errorf("%s: bool bit %s is one bit wide without checks", where, b.Name)
			}
		case enums[b.Type] != nil:
			for _, c := range b.Checks {
				c.versioned = c.Check == "enum" && versioned(enums[b.Type])
			}
			if err := validateChecks(where+" "+b.Name, b.Checks, "enumBits"); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: bit %s has unknown type %q", where, b.Name, b.Type)
		}
	}
	return nil
}

func validateChecks(where string, checks []*Check, kind string) error {
	for _, c := range checks {
		if err := c.Versions.validate(where + " check " + c.Check); err != nil {
			return err
		}
		h, ok := checkHelpers[c.Check]
		if !ok {
			return fmt.Errorf("%s: unknown check %q", where, c.Check)
		}
		if c.Rule == "" {
			return fmt.Errorf("%s: check %s has no rule", where, c.Check)
		}
		fits := false
		for _, k := range h.kinds {
			fits = fits || k == kind
		}
		if !fits {
			return fmt.Errorf("%s: check %s does not apply to %s", where, c.Check, kind)
		}
	}
	return nil
}

// validateCond checks that a condition names a field that is decoded before
// the condition is evaluated (the flags, or a field listed in before).
func validateCond(where string, c *Cond, fields map[string]goField, before []*Field, flagBits []*Bit) error {
	f, ok := fields[c.Field]
	if !ok {
		return fmt.Errorf("%s: condition names unknown field %q", where, c.Field)
	}
	earlier := false
	for _, b := range flagBits {
		earlier = earlier || b.Name == c.Field
	}
	for _, bf := range before {
		if bf.Name == c.Field {
			earlier = true
		}
		for _, b := range bf.Bits {
			earlier = earlier || b.Name == c.Field
		}
	}
	if !earlier {
		return fmt.Errorf("%s: condition on %q, which is not decoded before it", where, c.Field)
	}
	n := 0
	if c.Prefix != "" {
		return fmt.Errorf("%s: prefix belongs to struct constraints", where)
	}
	if c.Is != "" {
		n++
		if c.Is != "set" && c.Is != "unset" {
			return fmt.Errorf("%s: is must be set or unset", where)
		}
	}
	for _, v := range []any{c.Eq, c.Ne} {
		if v == nil {
			continue
		}
		n++
		switch v.(type) {
		case float64:
			if f.kind == kindString || f.kind == kindBinary {
				return fmt.Errorf("%s: %s is compared with a number", where, c.Field)
			}
		case string:
			if f.kind != kindString {
				return fmt.Errorf("%s: %s is compared with a string", where, c.Field)
			}
		default:
			return fmt.Errorf("%s: eq/ne take a number or a string", where)
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: a condition has exactly one of is, eq, ne", where)
	}
	return nil
}

// goField is a Go struct field of a generated packet type: a named flag bit,
// a named bit of a bits field, or a plain field.
type goField struct {
	kind string // a field kind, or "bool" / "enumBits" for bits
}

func goFields(p *Packet) map[string]goField {
	m := map[string]goField{}
	addBits := func(bits []*Bit) {
		for _, b := range bits {
			if b.Reserved != nil {
				continue
			}
			k := "enumBits"
			if b.Type == "bool" {
				k = "bool"
			}
			m[b.Name] = goField{kind: k}
		}
	}
	addBits(p.Flags.Bits)
	for _, f := range p.Fields {
		if f.Kind == kindBits {
			addBits(f.Bits)
			continue
		}
		m[f.Name] = goField{kind: f.Kind}
	}
	return m
}

// expandCheckSets replaces every {"set": name} entry of a check list with
// the checks of that set. Sets do not nest.
func (s *Spec) expandCheckSets() error {
	for name, set := range s.CheckSets {
		for _, c := range set {
			if c.Set != "" {
				return fmt.Errorf("check set %s: sets do not nest", name)
			}
		}
	}
	used := map[string]bool{}
	expand := func(where string, checks []*Check) ([]*Check, error) {
		var out []*Check
		for _, c := range checks {
			if c.Set == "" {
				out = append(out, c)
				continue
			}
			set, ok := s.CheckSets[c.Set]
			if !ok {
				return nil, fmt.Errorf("%s: unknown check set %q", where, c.Set)
			}
			if c.Check != "" || c.Rule != "" || c.Rule5 != "" {
				return nil, fmt.Errorf("%s: a set entry names only the set", where)
			}
			used[c.Set] = true
			for _, sc := range set {
				cp := *sc
				if len(c.Versions) > 0 {
					cp.Versions = c.Versions
				}
				out = append(out, &cp)
			}
		}
		return out, nil
	}
	var err error
	fields := func(where string, fs []*Field) {
		for _, f := range fs {
			if err != nil {
				return
			}
			if f.Checks, err = expand(where+" field "+f.Name, f.Checks); err != nil {
				return
			}
			for _, b := range f.Bits {
				if b.Checks, err = expand(where+" bit "+b.Name, b.Checks); err != nil {
					return
				}
			}
		}
	}
	for _, st := range s.Structs {
		fields("struct "+st.Name, st.Fields)
	}
	for _, p := range s.Packets {
		fields("packet "+p.Name, p.Fields)
		for _, b := range p.Flags.Bits {
			if err == nil {
				b.Checks, err = expand("packet "+p.Name+" flag "+b.Name, b.Checks)
			}
		}
	}
	if err != nil {
		return err
	}
	for name := range s.CheckSets {
		if !used[name] {
			return fmt.Errorf("check set %s is never used", name)
		}
	}
	return nil
}

// enumValue returns the value of e named name, or nil.
func enumValue(e *Enum, name string) *EnumValue {
	for _, v := range e.Values {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// validateProperties checks the property table and records its contexts.
func (s *Spec) validateProperties(names map[string]string) error {
	s.contexts = map[string]bool{}
	ids := map[int]bool{}
	fields := map[string]bool{}
	for _, pr := range s.Properties {
		w := fmt.Sprintf("property %#02x %s", pr.ID, pr.Name)
		if pr.ID < 1 || pr.ID > 63 || ids[pr.ID] {
			return fmt.Errorf("%s: id must be 1..63 and unique", w)
		}
		ids[pr.ID] = true
		if !token.IsIdentifier(pr.Name) || !token.IsExported(pr.Name) || fields[pr.goName()] || pr.Doc == "" || pr.Title == "" {
			return fmt.Errorf("%s: needs a unique exported name, a title and a doc", w)
		}
		fields[pr.goName()] = true
		if !propertyTypes[pr.Type] {
			return fmt.Errorf("%s: unknown type %q", w, pr.Type)
		}
		if len(pr.In) == 0 {
			return fmt.Errorf("%s: allowed in no packet", w)
		}
		in := map[string]bool{}
		for _, c := range pr.In {
			in[c] = true
			s.contexts[c] = true
		}
		for _, c := range pr.Repeat {
			if !in[c] {
				return fmt.Errorf("%s: repeats in %s, which does not allow it", w, c)
			}
		}
		if (pr.NonZero || pr.Bool || pr.Max > 0) && pr.ValueRule == "" {
			return fmt.Errorf("%s: a value rule needs valueRule", w)
		}
		kind := ""
		switch pr.Type {
		case "string":
			kind = kindString
		case "binary":
			kind = kindBinary
		}
		if pr.Type == "stringPair" {
			kind = kindString
		}
		if len(pr.Checks) > 0 && kind != kindString {
			return fmt.Errorf("%s: checks apply to strings only", w)
		}
		if err := validateChecks(w, pr.Checks, kind); err != nil {
			return err
		}
	}
	return nil
}

// structKinds returns the Go-level kind of each field of a struct element,
// with bits fields expanded into their named bits.
func structKinds(st *Struct) map[string]string {
	m := map[string]string{}
	for _, f := range st.Fields {
		if f.Kind != kindBits {
			m[f.Name] = f.Kind
			continue
		}
		for _, b := range f.Bits {
			if b.Reserved != nil {
				continue
			}
			m[b.Name] = "enumBits"
			if b.Type == "bool" {
				m[b.Name] = "bool"
			}
		}
	}
	return m
}
