package main

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
)

// This file renders properties_gen.go from the spec's property table: the
// PropertyID enum, the Properties value type with its presence mask, one
// allowed and one repeatable set per context, and the codec of a
// properties block (MQTT 5.0 §2.2.2).

// propGoType is the Go type of a single property value.
func propGoType(t string) *jen.Statement {
	switch t {
	case "byte":
		return jen.Byte()
	case "uint16":
		return jen.Uint16()
	case "uint32", "varint":
		return jen.Uint32()
	case "string":
		return jen.String()
	case "binary":
		return jen.Index().Byte()
	case "stringPair":
		return jen.Id("StringPair")
	}
	panic("unreachable: property type " + t)
}

func propConst(pr *Property) string { return "Prop" + pr.Name }

// propBit renders the PropertySet bit of a property: 1 << PropContentType.
func propBit(pr *Property) *jen.Statement {
	return jen.Id("PropertySet").Call(jen.Lit(1)).Op("<<").Id(propConst(pr))
}

// contexts returns the property contexts in the order the table first
// names them, so output never depends on map iteration.
func (r *renderer) contexts() []string {
	var out []string
	seen := map[string]bool{}
	for _, pr := range r.spec.Properties {
		for _, c := range pr.In {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func (r *renderer) propertiesFile() *jen.File {
	f := newFile()
	props := r.spec.Properties

	// type PropertyID byte; const ( PropPayloadFormatIndicator PropertyID = 0x01 ... )
	f.Comment("PropertyID identifies an MQTT 5.0 property (MQTT 5.0 §2.2.2.2).")
	f.Type().Id("PropertyID").Byte()
	f.Line()
	f.Const().DefsFunc(func(g *jen.Group) {
		for _, pr := range props {
			g.Comment(propConst(pr) + ": " + pr.Title + ".")
			g.Id(propConst(pr)).Id("PropertyID").Op("=").Add(hex(pr.ID))
		}
	})
	f.Line()
	f.Comment("String returns the name MQTT 5.0 gives the property, or PropertyID(n).")
	f.Func().Params(jen.Id("id").Id("PropertyID")).Id("String").Params().String().Block(
		jen.Switch(jen.Id("id")).BlockFunc(func(g *jen.Group) {
			for _, pr := range props {
				g.Case(jen.Id(propConst(pr))).Return(jen.Lit(pr.Title))
			}
		}),
		jen.Return(jen.Lit("PropertyID(").Op("+").Id("itoa").Call(jen.Int().Call(jen.Id("id"))).Op("+").Lit(")")),
	)
	f.Line()
	// func (id PropertyID) field() string: the Go field, for errors.
	f.Comment("field returns the Properties field that holds the property, for errors.")
	f.Func().Params(jen.Id("id").Id("PropertyID")).Id("field").Params().String().Block(
		jen.Switch(jen.Id("id")).BlockFunc(func(g *jen.Group) {
			for _, pr := range props {
				g.Case(jen.Id(propConst(pr))).Return(jen.Lit(pr.goName()))
			}
		}),
		jen.Return(jen.Id("id").Dot("String").Call()),
	)
	f.Line()

	f.Add(comments("PropertySet is a set of properties, one bit per PropertyID. Properties uses\none to record which single-valued properties are present."))
	f.Type().Id("PropertySet").Uint64()
	f.Line()
	f.Comment("Has reports whether id is in the set.")
	f.Func().Params(jen.Id("s").Id("PropertySet")).Id("Has").Params(jen.Id("id").Id("PropertyID")).Bool().Block(
		jen.Return(jen.Id("s").Op("&").Parens(jen.Lit(1).Op("<<").Id("id")).Op("!=").Lit(0)),
	)
	f.Line()
	f.Comment("With returns the set with id added.")
	f.Func().Params(jen.Id("s").Id("PropertySet")).Id("With").Params(jen.Id("id").Id("PropertyID")).Id("PropertySet").Block(
		jen.Return(jen.Id("s").Op("|").Lit(1).Op("<<").Id("id")),
	)
	f.Line()
	f.Comment("Without returns the set with id removed.")
	f.Func().Params(jen.Id("s").Id("PropertySet")).Id("Without").Params(jen.Id("id").Id("PropertyID")).Id("PropertySet").Block(
		jen.Return(jen.Id("s").Op("&^").Parens(jen.Lit(1).Op("<<").Id("id"))),
	)
	f.Line()

	// type Properties struct { Present PropertySet; ... }
	f.Add(comments("Properties holds the properties of an MQTT 5.0 packet or will (MQTT 5.0\n" +
		"§2.2.2). A single-valued property is present when its bit is in Present\n" +
		"(the Set methods add it); a repeatable one when its slice is non-empty.\n" +
		"Values, not pointers, so that encoding allocates nothing. Encoding\n" +
		"writes the properties in identifier order; decoding accepts any order\n" +
		"and keeps the order of repeated ones.\n\n" +
		"A packet holds its properties through a pointer, nil when it has none,\n" +
		"so that 3.1.1 packets, and 5.0 packets without properties, carry one\n" +
		"word for them. A nil *Properties reads as empty."))
	f.Type().Id("Properties").StructFunc(func(g *jen.Group) {
		g.Comment("Present holds the single-valued properties that are set.")
		g.Id("Present").Id("PropertySet")
		for _, pr := range props {
			g.Add(comments(fmt.Sprintf("%s is the %s (%#02x). %s", pr.goName(), pr.Title, pr.ID, pr.Doc)))
			t := propGoType(pr.Type)
			if pr.repeatable() {
				t = jen.Index().Add(t)
			}
			g.Id(pr.goName()).Add(t)
		}
	})
	f.Line()
	// func (ps *Properties) SetContentType(v string) { ps.ContentType = v; ps.Present |= 1 << PropContentType }
	for _, pr := range props {
		if pr.repeatable() {
			continue
		}
		f.Commentf("Set%s sets the %s and marks it present.", pr.Name, pr.Title)
		f.Func().Params(jen.Id("ps").Op("*").Id("Properties")).Id("Set"+pr.Name).Params(jen.Id("v").Add(propGoType(pr.Type))).Block(
			jen.Id("ps").Dot(pr.goName()).Op("=").Id("v"),
			jen.Id("ps").Dot("Present").Op("|=").Add(propBit(pr)),
		)
		f.Line()
	}

	// const ( propsPublish PropertySet = 1<<PropPayloadFormatIndicator | ... )
	f.Comment("The properties each context allows, and those it allows more than once.")
	f.Const().DefsFunc(func(g *jen.Group) {
		for _, c := range r.contexts() {
			var allowed, repeat []jen.Code
			for _, pr := range props {
				for _, in := range pr.In {
					if in == c {
						allowed = append(allowed, propBit(pr))
					}
				}
				for _, in := range pr.Repeat {
					if in == c {
						repeat = append(repeat, propBit(pr))
					}
				}
			}
			g.Id("props" + c).Id("PropertySet").Op("=").Add(orAll(allowed))
			g.Id("repeat" + c).Id("PropertySet").Op("=").Add(orAll(repeat))
		}
	})
	f.Line()

	recv := func() *jen.Statement { return jen.Id("ps").Op("*").Id("Properties") }
	var slices []*Property
	for _, pr := range props {
		if pr.repeatable() {
			slices = append(slices, pr)
		}
	}
	empty := jen.Id("ps").Dot("Present").Op("==").Lit(0)
	for _, pr := range slices {
		empty = empty.Op("&&").Len(jen.Id("ps").Dot(pr.goName())).Op("==").Lit(0)
	}
	f.Comment("empty reports whether no property is present; nil is empty.")
	f.Func().Params(recv()).Id("empty").Params().Bool().Block(jen.Return(jen.Id("ps").Op("==").Nil().Op("||").Add(empty)))
	f.Line()

	// reset keeps the slices' memory for a Reader's next packet.
	f.Add(comments("reset clears every property, keeping the slices' memory for the next\npacket a Reader decodes into the same value. A nil ps stays nil."))
	f.Func().Params(recv()).Id("reset").Params().Block(
		jen.If(jen.Id("ps").Op("==").Nil()).Block(jen.Return()),
		jen.Op("*").Id("ps").Op("=").Id("Properties").ValuesFunc(func(g *jen.Group) {
			for _, pr := range slices {
				g.Id(pr.goName()).Op(":").Id("ps").Dot(pr.goName()).Index(jen.Empty(), jen.Lit(0))
			}
		}),
	)
	f.Line()

	r.propsSize(f, recv)
	r.propsAppend(f, recv)
	r.propsValidate(f, recv)
	r.propsDecode(f, recv)
	r.propsWrite(f, recv)
	return f
}

func orAll(bits []jen.Code) jen.Code {
	if len(bits) == 0 {
		return jen.Lit(0)
	}
	s := jen.Null()
	for i, b := range bits {
		if i > 0 {
			s.Op("|")
		}
		s.Add(b)
	}
	return s
}

// trimmed wraps stmt in "if trim < n" for a property the size budget drops.
func trimmed(pr *Property, stmt jen.Code) jen.Code {
	if pr.Trim == 0 {
		return stmt
	}
	return jen.If(jen.Id("trim").Op("<").Lit(pr.Trim)).Block(stmt)
}

// present renders the presence test of a single-valued property.
func present(pr *Property) *jen.Statement {
	return jen.Id("ps").Dot("Present").Op("&").Parens(propBit(pr)).Op("!=").Lit(0)
}

// valueSize renders the encoded size of one value v of type t.
func valueSize(t string, v *jen.Statement) *jen.Statement {
	switch t {
	case "byte":
		return jen.Lit(1)
	case "uint16":
		return jen.Lit(2)
	case "uint32":
		return jen.Lit(4)
	case "varint":
		return jen.Id("sizeRemainingLength").Call(jen.Int().Call(v))
	case "string", "binary":
		return jen.Lit(2).Op("+").Len(v)
	case "stringPair":
		return jen.Lit(4).Op("+").Len(v.Clone().Dot("Key")).Op("+").Len(v.Clone().Dot("Value"))
	}
	panic("unreachable")
}

// propsSize emits size, the length of the property entries:
//
//	n := 0
//	if ps.Present&(PropertySet(1)<<PropContentType) != 0 { n += 1 + 2 + len(ps.ContentType) }
//	for i := range ps.UserProperties { n += 1 + 4 + len(...Key) + len(...Value) }
func (r *renderer) propsSize(f *jen.File, recv func() *jen.Statement) {
	f.Add(comments("size returns the length of the property entries, without the Property\nLength. With trim 1 it leaves out the properties an encoder drops first to\nfit a size budget (the Reason String), with 2 also the next (User Property)."))
	f.Func().Params(recv()).Id("size").Params(jen.Id("trim").Int()).Int().BlockFunc(func(g *jen.Group) {
		g.If(jen.Id("ps").Dot("empty").Call()).Block(jen.Return(jen.Lit(0)))
		g.Id("n").Op(":=").Lit(0)
		for _, pr := range r.spec.Properties {
			acc := jen.Id("ps").Dot(pr.goName())
			idSize := jen.Lit(1)
			if pr.ID >= 0x80 {
				idSize = jen.Lit(2)
			}
			var stmt jen.Code
			if pr.repeatable() {
				stmt = jen.For(jen.Id("i").Op(":=").Range().Add(acc.Clone())).Block(
					jen.Id("n").Op("+=").Add(idSize).Op("+").Add(valueSize(pr.Type, acc.Clone().Index(jen.Id("i")))))
			} else {
				stmt = jen.If(present(pr)).Block(jen.Id("n").Op("+=").Add(idSize).Op("+").Add(valueSize(pr.Type, acc.Clone())))
			}
			g.Add(trimmed(pr, stmt))
		}
		g.Return(jen.Id("n"))
	})
	f.Line()
	f.Comment("wireSize returns the length of the properties block: Property Length and entries.")
	f.Func().Params(recv()).Id("wireSize").Params(jen.Id("trim").Int()).Int().Block(
		jen.Id("n").Op(":=").Id("ps").Dot("size").Call(jen.Id("trim")),
		jen.Return(jen.Id("sizeRemainingLength").Call(jen.Id("n")).Op("+").Id("n")),
	)
	f.Line()
}

// appendValue renders the append of one value v of type t.
func appendValue(t string, v *jen.Statement) jen.Code {
	dst := jen.Id("dst").Op("=")
	switch t {
	case "byte":
		return dst.Append(jen.Id("dst"), v)
	case "uint16":
		return dst.Id("appendUint16").Call(jen.Id("dst"), v)
	case "uint32":
		return dst.Id("appendUint32").Call(jen.Id("dst"), v)
	case "varint":
		return dst.Id("appendRemainingLength").Call(jen.Id("dst"), jen.Int().Call(v))
	case "string":
		return dst.Id("appendString").Call(jen.Id("dst"), v)
	case "binary":
		return dst.Id("appendBinary").Call(jen.Id("dst"), v)
	case "stringPair":
		return dst.Id("appendString").Call(jen.Id("appendString").Call(jen.Id("dst"), v.Clone().Dot("Key")), v.Clone().Dot("Value"))
	}
	panic("unreachable")
}

// propsAppend emits append, which writes the Property Length and the
// entries in identifier order.
func (r *renderer) propsAppend(f *jen.File, recv func() *jen.Statement) {
	f.Comment("append appends the properties block: Property Length, then the entries.")
	f.Func().Params(recv()).Id("append").Params(jen.Id("dst").Index().Byte(), jen.Id("trim").Int()).Index().Byte().BlockFunc(func(g *jen.Group) {
		g.Id("dst").Op("=").Id("appendRemainingLength").Call(jen.Id("dst"), jen.Id("ps").Dot("size").Call(jen.Id("trim")))
		g.If(jen.Id("ps").Dot("empty").Call()).Block(jen.Return(jen.Id("dst")))
		for _, pr := range r.spec.Properties {
			acc := jen.Id("ps").Dot(pr.goName())
			id := jen.Id("dst").Op("=").Append(jen.Id("dst"), jen.Byte().Call(jen.Id(propConst(pr))))
			var stmt jen.Code
			if pr.repeatable() {
				stmt = jen.For(jen.Id("i").Op(":=").Range().Add(acc.Clone())).Block(id, appendValue(pr.Type, acc.Clone().Index(jen.Id("i"))))
			} else {
				stmt = jen.If(present(pr)).Block(id, appendValue(pr.Type, acc.Clone()))
			}
			g.Add(trimmed(pr, stmt))
		}
		g.Return(jen.Id("dst"))
	})
	f.Line()
}

// propName renders the field an error names: field + ".ContentType".
func propName(pr *Property) *jen.Statement {
	return jen.Id("field").Op("+").Lit("." + pr.goName())
}

func propRule(c *Check) string {
	if c.Rule5 != "" {
		return c.Rule5
	}
	return c.Rule
}

// valueChecks emits the checks of one property value v for encode (fail
// returns encodeError) or decode (fail returns decodeError/protocolError).
func (r *renderer) valueChecks(g *jen.Group, pr *Property, v *jen.Statement, name jen.Code, decode bool) {
	fail := func(fn, rule string, err jen.Code) jen.Code {
		if decode {
			return jen.Return(jen.Id(fn).Call(jen.Id("t"), name, jen.Id("off"), jen.Lit(rule), err))
		}
		return jen.Return(jen.Id("encodeError").Call(jen.Id("t"), name, jen.Lit(rule), err))
	}
	if pr.Bool {
		g.If(v.Clone().Op(">").Lit(1)).Block(fail("protocolError", pr.ValueRule, jen.Id("errNotBool")))
	}
	if pr.NonZero {
		g.If(v.Clone().Op("==").Lit(0)).Block(fail("protocolError", pr.ValueRule, jen.Id("errPropertyZero")))
	}
	if pr.Max > 0 {
		g.If(v.Clone().Op(">").Lit(pr.Max)).Block(fail("protocolError", pr.ValueRule, jen.Id("errPropertyRange")))
	}
	strs := []*jen.Statement{v}
	if pr.Type == "stringPair" {
		strs = []*jen.Statement{v.Clone().Dot("Key"), v.Clone().Dot("Value")}
	}
	for _, s := range strs {
		checks := pr.Checks
		if !decode && (pr.Type == "string" || pr.Type == "binary" || pr.Type == "stringPair") {
			checks = append([]*Check{{Check: "maxLen", Rule5: "MQTT 5.0 §1.5.4"}}, checks...)
		}
		for _, c := range checks {
			if decode && !checkHelpers[c.Check].decode {
				continue
			}
			fn := "decodeError"
			if c.Protocol {
				fn = "protocolError"
			}
			call := checkCall(c, s.Clone(), nil)
			if decode {
				g.If(jen.Err().Op("=").Add(call), jen.Err().Op("!=").Nil()).Block(fail(fn, propRule(c), jen.Err()))
			} else {
				g.If(jen.Err().Op(":=").Add(call), jen.Err().Op("!=").Nil()).Block(fail(fn, propRule(c), jen.Err()))
			}
		}
	}
}

// propsValidate emits validate, the encode-side checks: each property is
// allowed in the context, repeats only where it may, and holds a legal value.
func (r *renderer) propsValidate(f *jen.File, recv func() *jen.Statement) {
	f.Add(comments("validate checks the properties of a packet of type t before it is sent:\nallowed holds the properties the packet may carry and repeat those it may\ncarry more than once (MQTT 5.0 §2.2.2.2). field names the packet field."))
	params := []jen.Code{jen.Id("t").Id("Type"), jen.Id("field").String(), jen.List(jen.Id("allowed"), jen.Id("repeat")).Id("PropertySet")}
	f.Func().Params(recv()).Id("validate").Params(params...).Error().BlockFunc(func(g *jen.Group) {
		g.If(jen.Id("ps").Dot("empty").Call()).Block(jen.Return(jen.Nil()))
		var singles []jen.Code
		for _, pr := range r.spec.Properties {
			if !pr.repeatable() {
				singles = append(singles, propBit(pr))
			}
		}
		// if bad := ps.Present & singles &^ allowed; bad != 0 { ... }
		g.If(jen.Id("bad").Op(":=").Id("ps").Dot("Present").Op("&").Parens(orAll(singles)).Op("&^").Id("allowed"), jen.Id("bad").Op("!=").Lit(0)).Block(
			jen.Id("id").Op(":=").Id("PropertyID").Call(jen.Qual("math/bits", "TrailingZeros64").Call(jen.Uint64().Call(jen.Id("bad")))),
			jen.Return(jen.Id("encodeError").Call(jen.Id("t"), jen.Id("field").Op("+").Lit(".").Op("+").Id("id").Dot("field").Call(), jen.Lit("MQTT 5.0 §2.2.2.2"), jen.Id("errPropertyNotAllowed"))),
		)
		for _, pr := range r.spec.Properties {
			acc := jen.Id("ps").Dot(pr.goName())
			if pr.repeatable() {
				g.If(jen.Len(acc.Clone()).Op(">").Lit(0).Op("&&").Id("allowed").Op("&").Parens(propBit(pr)).Op("==").Lit(0)).Block(
					jen.Return(jen.Id("encodeError").Call(jen.Id("t"), propName(pr), jen.Lit("MQTT 5.0 §2.2.2.2"), jen.Id("errPropertyNotAllowed"))))
				g.If(jen.Len(acc.Clone()).Op(">").Lit(1).Op("&&").Id("repeat").Op("&").Parens(propBit(pr)).Op("==").Lit(0)).Block(
					jen.Return(jen.Id("encodeError").Call(jen.Id("t"), propName(pr), jen.Lit("MQTT 5.0 §2.2.2.2"), jen.Id("errPropertyRepeated"))))
				g.For(jen.Id("i").Op(":=").Range().Add(acc.Clone())).BlockFunc(func(lg *jen.Group) {
					r.valueChecks(lg, pr, acc.Clone().Index(jen.Id("i")), jen.Id("elemField").Call(propName(pr), jen.Id("i"), jen.Lit("")), false)
				})
				continue
			}
			body := jen.BlockFunc(func(bg *jen.Group) { r.valueChecks(bg, pr, acc.Clone(), propName(pr), false) })
			if isEmptyBlock(pr) {
				continue
			}
			g.If(present(pr)).Add(body)
		}
		for _, pr := range r.spec.Properties {
			if pr.Requires == "" {
				continue
			}
			req := r.property(pr.Requires)
			g.If(present(pr).Op("&&").Id("ps").Dot("Present").Op("&").Parens(propBit(req)).Op("==").Lit(0)).Block(
				jen.Return(jen.Id("encodeError").Call(jen.Id("t"), propName(pr), jen.Lit(pr.RequiresRule), jen.Id("reason").Call(jen.Lit("requires the "+req.Title)))))
		}
		g.Return(jen.Nil())
	})
	f.Line()
}

// isEmptyBlock reports whether a single-valued property has no encode check.
func isEmptyBlock(pr *Property) bool {
	return !pr.Bool && !pr.NonZero && pr.Max == 0 && pr.Type != "string" && pr.Type != "binary" && pr.Type != "stringPair"
}

func (r *renderer) property(name string) *Property {
	for _, pr := range r.spec.Properties {
		if pr.Name == name {
			return pr
		}
	}
	panic("unreachable: property " + name)
}

// readValue renders the decoder call for a value of type t.
func readValue(t string) string {
	switch t {
	case "byte":
		return "byte"
	case "uint16":
		return "uint16"
	case "uint32":
		return "uint32"
	case "varint":
		return "varint32"
	case "string", "stringPair":
		return "string"
	case "binary":
		return "binary"
	}
	panic("unreachable")
}

// propsDecode emits decode: the Property Length, bounded by what the packet
// holds, then entries until it is used up.
func (r *renderer) propsDecode(f *jen.File, recv func() *jen.Statement) {
	f.Add(comments("decode reads a properties block of a packet of type t into ps. An\n" +
		"identifier the packet does not allow is a Malformed Packet; a repeat where\n" +
		"the property may appear once, and a forbidden value, a Protocol Error\n" +
		"(MQTT 5.0 §2.2.2.2). Values cannot run past the Property Length."))
	params := []jen.Code{jen.Id("d").Op("*").Id("decoder"), jen.Id("t").Id("Type"), jen.Id("field").String(), jen.List(jen.Id("allowed"), jen.Id("repeat")).Id("PropertySet")}
	// func decodeProperties(d *decoder, dst **Properties, ...) error
	f.Add(comments("decodeProperties reads a properties block into *dst. An empty block\n" +
		"leaves *dst as it was, cleared; a non-empty one is decoded into *dst,\n" +
		"allocated when nil, so a Reader's packet reuses one Properties value."))
	f.Func().Id("decodeProperties").Params(append([]jen.Code{jen.Id("d").Op("*").Id("decoder"), jen.Id("dst").Op("**").Id("Properties")}, params[1:]...)...).Error().Block(
		jen.If(jen.Id("d").Dot("remaining").Call().Op(">").Lit(0).Op("&&").Id("d").Dot("b").Index(jen.Id("d").Dot("off")).Op("==").Lit(0)).Block(
			jen.Id("d").Dot("off").Op("++"),
			jen.Parens(jen.Op("*").Id("dst")).Dot("reset").Call(),
			jen.Return(jen.Nil()),
		),
		jen.Id("fresh").Op(":=").Op("*").Id("dst").Op("==").Nil(),
		jen.If(jen.Id("fresh")).Block(jen.Op("*").Id("dst").Op("=").New(jen.Id("Properties"))),
		jen.Err().Op(":=").Parens(jen.Op("*").Id("dst")).Dot("decode").Call(jen.Id("d"), jen.Id("t"), jen.Id("field"), jen.Id("allowed"), jen.Id("repeat")),
		jen.Comment("A block that held nothing after all (a Property Length of 0 spelt"),
		jen.Comment("in more bytes than needed) reads as none, as the short form does."),
		jen.If(jen.Id("fresh").Op("&&").Err().Op("==").Nil().Op("&&").Parens(jen.Op("*").Id("dst")).Dot("empty").Call()).Block(
			jen.Op("*").Id("dst").Op("=").Nil(),
		),
		jen.Return(jen.Err()),
	)
	f.Line()

	f.Func().Params(recv()).Id("decode").Params(params...).Error().BlockFunc(func(g *jen.Group) {
		g.Id("ps").Dot("reset").Call()
		g.Id("off").Op(":=").Id("d").Dot("pos").Call()
		g.List(jen.Id("n"), jen.Err()).Op(":=").Id("d").Dot("varint").Call()
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id("decodeError").Call(jen.Id("t"), jen.Id("field"), jen.Id("off"), jen.Lit("MQTT 5.0 §2.2.2.1"), jen.Err())))
		g.If(jen.Id("n").Op(">").Id("d").Dot("remaining").Call()).Block(
			jen.Id("d").Dot("short").Op("=").True(),
			jen.Return(jen.Id("decodeError").Call(jen.Id("t"), jen.Id("field"), jen.Id("off"), jen.Lit("MQTT 5.0 §2.2.2.1"), jen.Id("errTruncated"))),
		)
		g.Comment("Bound the decoder to the block; a value running past it is malformed,")
		g.Comment("and more input would not help, so short is cleared on the way out.")
		g.Id("whole").Op(":=").Id("d").Dot("b")
		g.Id("d").Dot("b").Op("=").Id("d").Dot("b").Index(jen.Empty(), jen.Id("d").Dot("off").Op("+").Id("n"))
		g.Err().Op("=").Id("ps").Dot("entries").Call(jen.Id("d"), jen.Id("t"), jen.Id("field"), jen.Id("allowed"), jen.Id("repeat"))
		g.Id("d").Dot("b").Op("=").Id("whole")
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Id("d").Dot("short").Op("=").False(), jen.Return(jen.Err()))
		for _, pr := range r.spec.Properties {
			if pr.Requires == "" {
				continue
			}
			req := r.property(pr.Requires)
			g.If(present(pr).Op("&&").Id("ps").Dot("Present").Op("&").Parens(propBit(req)).Op("==").Lit(0)).Block(
				jen.Return(jen.Id("protocolError").Call(jen.Id("t"), propName(pr), jen.Id("off"), jen.Lit(pr.RequiresRule), jen.Id("reason").Call(jen.Lit("requires the "+req.Title)))))
		}
		g.Return(jen.Nil())
	})
	f.Line()

	f.Comment("entries decodes property entries until the decoder, bounded to the block, is used up.")
	f.Func().Params(recv()).Id("entries").Params(params...).Error().BlockFunc(func(g *jen.Group) {
		g.Var().Id("seen").Id("PropertySet")
		g.For(jen.Id("d").Dot("remaining").Call().Op(">").Lit(0)).BlockFunc(func(lg *jen.Group) {
			lg.Id("off").Op(":=").Id("d").Dot("pos").Call()
			lg.List(jen.Id("v"), jen.Err()).Op(":=").Id("d").Dot("varint").Call()
			lg.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id("decodeError").Call(jen.Id("t"), jen.Id("field"), jen.Id("off"), jen.Lit("MQTT 5.0 §2.2.2.2"), jen.Err())))
			lg.If(jen.Id("v").Op(">").Lit(63).Op("||").Id("allowed").Op("&").Parens(jen.Id("PropertySet").Call(jen.Lit(1)).Op("<<").Id("v")).Op("==").Lit(0)).Block(
				jen.Return(jen.Id("decodeError").Call(jen.Id("t"), jen.Id("field"), jen.Id("off"), jen.Lit("MQTT 5.0 §2.2.2.2"), jen.Id("errPropertyNotAllowed"))))
			lg.Id("id").Op(":=").Id("PropertyID").Call(jen.Id("v"))
			lg.Id("bit").Op(":=").Id("PropertySet").Call(jen.Lit(1)).Op("<<").Id("id")
			lg.If(jen.Id("seen").Op("&").Id("bit").Op("!=").Lit(0).Op("&&").Id("repeat").Op("&").Id("bit").Op("==").Lit(0)).Block(
				jen.Return(jen.Id("protocolError").Call(jen.Id("t"), jen.Id("field").Op("+").Lit(".").Op("+").Id("id").Dot("field").Call(), jen.Id("off"), jen.Lit("MQTT 5.0 §2.2.2.2"), jen.Id("errPropertyRepeated"))))
			lg.Id("seen").Op("|=").Id("bit")
			lg.Switch(jen.Id("id")).BlockFunc(func(sg *jen.Group) {
				for _, pr := range r.spec.Properties {
					sg.Case(jen.Id(propConst(pr))).BlockFunc(func(cg *jen.Group) { r.decodeProperty(cg, pr) })
				}
			})
		})
		g.Return(jen.Nil())
	})
	f.Line()
}

// decodeProperty emits one case of the entries switch.
func (r *renderer) decodeProperty(g *jen.Group, pr *Property) {
	acc := jen.Id("ps").Dot(pr.goName())
	name := propName(pr)
	fail := jen.Return(jen.Id("decodeError").Call(jen.Id("t"), name.Clone(), jen.Id("off"), jen.Lit(""), jen.Err()))
	if pr.repeatable() {
		g.Var().Id("x").Add(propGoType(pr.Type))
		if pr.Type == "stringPair" {
			g.If(jen.List(jen.Id("x").Dot("Key"), jen.Err()).Op("=").Id("d").Dot("string").Call(), jen.Err().Op("!=").Nil()).Block(fail)
			g.If(jen.List(jen.Id("x").Dot("Value"), jen.Err()).Op("=").Id("d").Dot("string").Call(), jen.Err().Op("!=").Nil()).Block(fail)
		} else {
			g.If(jen.List(jen.Id("x"), jen.Err()).Op("=").Id("d").Dot(readValue(pr.Type)).Call(), jen.Err().Op("!=").Nil()).Block(fail)
		}
		r.valueChecks(g, pr, jen.Id("x"), name.Clone(), true)
		g.Add(acc.Clone()).Op("=").Append(acc.Clone(), jen.Id("x"))
		return
	}
	g.If(jen.List(acc.Clone(), jen.Err()).Op("=").Id("d").Dot(readValue(pr.Type)).Call(), jen.Err().Op("!=").Nil()).Block(fail)
	r.valueChecks(g, pr, acc.Clone(), name.Clone(), true)
	g.Id("ps").Dot("Present").Op("|=").Id("bit")
}

// propsWrite emits write, the String form of the properties that are set.
func (r *renderer) propsWrite(f *jen.File, recv func() *jen.Statement) {
	f.Comment("write adds the present properties to a String form; secrets are redacted.\nA nil ps writes an empty block.")
	f.Func().Params(recv()).Id("write").Params(jen.Id("w").Op("*").Id("fieldWriter"), jen.Id("name").String()).BlockFunc(func(g *jen.Group) {
		g.Id("w").Dot("openStruct").Call(jen.Id("name"))
		g.If(jen.Id("ps").Op("==").Nil()).Block(jen.Id("w").Dot("closeElem").Call(), jen.Return())
		for _, pr := range r.spec.Properties {
			acc := jen.Id("ps").Dot(pr.goName())
			if pr.repeatable() {
				g.If(jen.Len(acc.Clone()).Op(">").Lit(0)).Block(
					jen.Id("w").Dot("openList").Call(jen.Lit(pr.goName())),
					jen.For(jen.Id("i").Op(":=").Range().Add(acc.Clone())).BlockFunc(func(lg *jen.Group) {
						if pr.Type == "stringPair" {
							lg.Id("w").Dot("elemPair").Call(acc.Clone().Index(jen.Id("i")).Dot("Key"), acc.Clone().Index(jen.Id("i")).Dot("Value"))
						} else {
							lg.Id("w").Dot("elemUint").Call(jen.Uint64().Call(acc.Clone().Index(jen.Id("i"))))
						}
					}),
					jen.Id("w").Dot("closeList").Call(),
				)
				continue
			}
			var stmt jen.Code
			switch {
			case pr.Sensitive:
				stmt = jen.Id("w").Dot("secret").Call(jen.Lit(pr.goName()))
			case pr.Type == "string":
				stmt = jen.Id("w").Dot("str").Call(jen.Lit(pr.goName()), acc)
			case pr.Type == "binary":
				stmt = jen.Id("w").Dot("bytes").Call(jen.Lit(pr.goName()), acc)
			default:
				stmt = jen.Id("w").Dot("uint").Call(jen.Lit(pr.goName()), jen.Uint64().Call(acc))
			}
			g.If(present(pr)).Block(stmt)
		}
		g.Id("w").Dot("closeElem").Call()
	})
}

// reasonSets renders, for each reason set, a membership method, and
// ReasonCode's ValidFor and NameFor:
//
//	func (c ReasonCode) inPuback() bool { switch c { case ReasonSuccess, ...: return true }; return false }
func (r *renderer) reasonSets(f *jen.File) {
	if len(r.spec.ReasonSets) == 0 {
		return
	}
	rc := r.enums["ReasonCode"]
	for _, rs := range r.spec.ReasonSets {
		f.Commentf("in%s reports whether c is one of the %s.", rs.Name, strings.TrimSuffix(lowerFirst(rs.Doc), "."))
		f.Func().Params(jen.Id("c").Id("ReasonCode")).Id("in"+rs.Name).Params().Bool().Block(
			jen.Switch(jen.Id("c")).Block(jen.CaseFunc(func(g *jen.Group) {
				for _, c := range rs.Codes {
					g.Id(c)
				}
			}).Return(jen.True())),
			jen.Return(jen.False()),
		)
		f.Line()
	}
	f.Add(comments("ValidFor reports whether c is a reason code a packet of type t may carry\n(MQTT 5.0 §2.4 and each packet's section)."))
	f.Func().Params(jen.Id("c").Id("ReasonCode")).Id("ValidFor").Params(jen.Id("t").Id("Type")).Bool().Block(
		jen.Switch(jen.Id("t")).BlockFunc(func(g *jen.Group) {
			for _, rs := range r.spec.ReasonSets {
				g.CaseFunc(func(cg *jen.Group) {
					for _, t := range rs.Packets {
						cg.Id(t)
					}
				}).Return(jen.Id("c").Dot("in" + rs.Name).Call())
			}
		}),
		jen.Return(jen.False()),
	)
	f.Line()
	f.Add(comments("NameFor returns the name MQTT 5.0 gives c in a packet of type t, which\ndiffers from String where one number has several names: 0x00 is also\nNormal disconnection and Granted QoS 0."))
	f.Func().Params(jen.Id("c").Id("ReasonCode")).Id("NameFor").Params(jen.Id("t").Id("Type")).String().BlockFunc(func(g *jen.Group) {
		g.Switch(jen.Id("t")).BlockFunc(func(sg *jen.Group) {
			for _, rs := range r.spec.ReasonSets {
				var aliases []*EnumValue
				for _, c := range rs.Codes {
					if v := enumValue(rc, c); v.Alias {
						aliases = append(aliases, v)
					}
				}
				if len(aliases) == 0 {
					continue
				}
				sg.CaseFunc(func(cg *jen.Group) {
					for _, t := range rs.Packets {
						cg.Id(t)
					}
				}).BlockFunc(func(cg *jen.Group) {
					for _, v := range aliases {
						cg.If(jen.Id("c").Op("==").Id(v.Name)).Block(jen.Return(jen.Lit(v.String)))
					}
				})
			}
		})
		g.Return(jen.Id("c").Dot("String").Call())
	})
	f.Line()
}
