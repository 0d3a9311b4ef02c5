package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/packets"
)

// PropCommand is the packet an MQTT 5.0 property of -D goes to, by
// mosquitto's names for them (mosquitto_string_to_command).
type PropCommand int

// The commands of -D. Only some carry properties the tools send; the others
// are refused as mosquitto refuses them.
const (
	CmdConnect PropCommand = iota
	CmdConnack
	CmdPublish
	CmdPuback
	CmdPubrec
	CmdPubrel
	CmdPubcomp
	CmdSubscribe
	CmdSuback
	CmdUnsubscribe
	CmdUnsuback
	CmdDisconnect
	CmdAuth
	CmdWill
	numCommands
)

var commandNames = [numCommands]string{"connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
	"subscribe", "suback", "unsubscribe", "unsuback", "disconnect", "auth", "will"}

// String returns mosquitto's name of the command.
func (c PropCommand) String() string { return commandNames[c] }

// checkName is how mosquitto's messages name the property list of c when
// it checks the whole list ("Error in CONNECT properties").
func (c PropCommand) checkName() string {
	if c == CmdWill {
		return "Will"
	}
	return strings.ToUpper(c.String())
}

// propType is the wire type of a property, numbered as mosquitto numbers
// them in "Error adding property" (MQTT_PROP_TYPE_*).
type propType int

const (
	typeByte propType = iota + 1
	typeInt16
	typeInt32
	typeVarint
	typeBinary
	typeString
	typePair
)

type commandSet uint16

func cmds(cs ...PropCommand) commandSet {
	var s commandSet
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// propInfo is one property -D knows: its identifier, type, and the
// packets MQTT 5.0 allows it in (mosquitto_property_check_command).
type propInfo struct {
	id      packets.PropertyID
	typ     propType
	allowed commandSet
}

var (
	messageCmds = cmds(CmdPublish, CmdWill)
	allCmds     = commandSet(1<<numCommands - 1)
	reasonCmds  = cmds(CmdConnack, CmdPuback, CmdPubrec, CmdPubrel, CmdPubcomp, CmdSuback, CmdUnsuback, CmdDisconnect, CmdAuth)
	connackOnly = cmds(CmdConnack)
)

// propTable maps mosquitto's property names (the specification's, lower
// case, words joined by '-') to what they are.
var propTable = map[string]propInfo{
	"payload-format-indicator":          {packets.PropPayloadFormatIndicator, typeByte, messageCmds},
	"message-expiry-interval":           {packets.PropMessageExpiryInterval, typeInt32, messageCmds},
	"content-type":                      {packets.PropContentType, typeString, messageCmds},
	"response-topic":                    {packets.PropResponseTopic, typeString, messageCmds},
	"correlation-data":                  {packets.PropCorrelationData, typeBinary, messageCmds},
	"subscription-identifier":           {packets.PropSubscriptionIdentifier, typeVarint, cmds(CmdPublish, CmdSubscribe)},
	"session-expiry-interval":           {packets.PropSessionExpiryInterval, typeInt32, cmds(CmdConnect, CmdConnack, CmdDisconnect)},
	"assigned-client-identifier":        {packets.PropAssignedClientIdentifier, typeString, connackOnly},
	"server-keep-alive":                 {packets.PropServerKeepAlive, typeInt16, connackOnly},
	"authentication-method":             {packets.PropAuthenticationMethod, typeString, cmds(CmdConnect, CmdConnack, CmdAuth)},
	"authentication-data":               {packets.PropAuthenticationData, typeBinary, cmds(CmdConnect, CmdConnack, CmdAuth)},
	"request-problem-information":       {packets.PropRequestProblemInformation, typeByte, cmds(CmdConnect)},
	"will-delay-interval":               {packets.PropWillDelayInterval, typeInt32, cmds(CmdWill)},
	"request-response-information":      {packets.PropRequestResponseInformation, typeByte, cmds(CmdConnect)},
	"response-information":              {packets.PropResponseInformation, typeString, connackOnly},
	"server-reference":                  {packets.PropServerReference, typeString, cmds(CmdConnack, CmdDisconnect)},
	"reason-string":                     {packets.PropReasonString, typeString, reasonCmds},
	"receive-maximum":                   {packets.PropReceiveMaximum, typeInt16, cmds(CmdConnect, CmdConnack)},
	"topic-alias-maximum":               {packets.PropTopicAliasMaximum, typeInt16, cmds(CmdConnect, CmdConnack)},
	"topic-alias":                       {packets.PropTopicAlias, typeInt16, cmds(CmdPublish)},
	"maximum-qos":                       {packets.PropMaximumQoS, typeByte, connackOnly},
	"retain-available":                  {packets.PropRetainAvailable, typeByte, connackOnly},
	"user-property":                     {packets.PropUserProperty, typePair, allCmds},
	"maximum-packet-size":               {packets.PropMaximumPacketSize, typeInt32, cmds(CmdConnect, CmdConnack)},
	"wildcard-subscription-available":   {packets.PropWildcardSubscriptionAvailable, typeByte, connackOnly},
	"subscription-identifier-available": {packets.PropSubscriptionIdentifierAvailable, typeByte, connackOnly},
	"shared-subscription-available":     {packets.PropSharedSubscriptionAvailable, typeByte, connackOnly},
}

// Property is one -D property, as given.
type Property struct {
	Name  string // mosquitto's name, as typed
	ID    packets.PropertyID
	Int   uint32 // byte, two- and four-byte integers, variable byte integer
	Str   string // strings, binary data, and the value of a user property
	Key   string // the name of a user property
	typ   propType
	given string // the value as typed, for messages
}

// PropertyList holds the -D properties of each command, in order.
type PropertyList [numCommands][]Property

// Empty reports whether no property was given at all.
func (l *PropertyList) Empty() bool {
	for _, ps := range l {
		if len(ps) > 0 {
			return false
		}
	}
	return true
}

// Get returns the last property id of command c, if any.
func (l *PropertyList) Get(c PropCommand, id packets.PropertyID) (Property, bool) {
	ps := l[c]
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].ID == id {
			return ps[i], true
		}
	}
	return Property{}, false
}

// parseProperty reads "-D command identifier value" or "-D command
// user-property name value" from args (after -D), as mosquitto's
// cfg_parse_property, with its messages. It returns how many arguments it
// took.
func parseProperty(o *Options, args []string) (int, error) {
	notEnough := usageErr("Error: --property argument given but not enough arguments specified.\n\n")
	if len(args) < 3 {
		return 0, notEnough
	}
	cmdName, propName := args[0], args[1]
	cmd := PropCommand(-1)
	for i, n := range commandNames {
		if strings.EqualFold(n, cmdName) {
			cmd = PropCommand(i)
		}
	}
	if cmd < 0 {
		return 0, usageErr("Error: Invalid command given in --property argument.\n\n")
	}
	info, ok := propTable[strings.ToLower(propName)]
	if !ok {
		return 0, usageErr("Error: Invalid property name given in --property argument.\n\n")
	}
	if info.allowed&(1<<cmd) == 0 {
		return 0, usageErr("Error: %s property not allowed for %s in --property argument.\n\n", propName, cmdName)
	}
	p := Property{Name: propName, ID: info.id, typ: info.typ}
	n := 3
	if info.typ == typePair {
		if len(args) < 4 {
			return 0, notEnough
		}
		p.Key, p.given, n = args[2], args[3], 4
	} else {
		p.given = args[2]
	}
	notSupported := usageErr("Error: %s property not supported for %s in --property argument.\n\n", propName, cmdName)
	switch cmd {
	case CmdPublish:
		if info.id == packets.PropSubscriptionIdentifier {
			return 0, notSupported
		}
	case CmdSubscribe:
		if info.id != packets.PropSubscriptionIdentifier && info.id != packets.PropUserProperty {
			return 0, notSupported
		}
	case CmdAuth, CmdPuback, CmdPubrec, CmdPubrel, CmdPubcomp, CmdSuback, CmdUnsuback:
		return 0, notSupported
	case CmdConnack:
		// mosquitto fails here without a word of its own.
		return 0, usageErr("")
	}
	if err := p.setValue(); err != nil {
		return 0, err
	}
	o.Properties[cmd] = append(o.Properties[cmd], p)
	// mosquitto: a property makes the client an MQTT 5.0 one, unless a
	// later -V says otherwise.
	o.Protocol = client.MQTT5
	return n, nil
}

// setValue converts the value as mosquitto does: numbers with C's atol,
// checked against the type's range; strings as given.
func (p *Property) setValue() error {
	outOfRange := func(v int64) error {
		return usageErr("Error: Property value (%d) out of range for property %s.\n\n", v, p.Name)
	}
	addFailed := usageErr("Error adding property %s %d\n", p.Name, p.typ)
	switch p.typ {
	case typeByte, typeInt16, typeInt32, typeVarint:
		v := atol(p.given)
		limit := map[propType]int64{typeByte: math.MaxUint8, typeInt16: math.MaxUint16, typeInt32: math.MaxUint32, typeVarint: math.MaxUint32}[p.typ]
		if v < 0 || v > limit {
			return outOfRange(v)
		}
		if p.typ == typeVarint && v > 268_435_455 {
			return addFailed // beyond four bytes of variable byte integer
		}
		p.Int = uint32(v)
	case typeBinary:
		if len(p.given) > math.MaxUint16 {
			return usageErr("Error: Property value too long for property %s.\n\n", p.Name)
		}
		p.Str = p.given
	case typeString:
		if !validMQTTString(p.given) {
			return addFailed
		}
		p.Str = p.given
	case typePair:
		if !validMQTTString(p.Key) || !validMQTTString(p.given) {
			return addFailed
		}
		p.Str = p.given
	}
	return nil
}

// validMQTTString is what libmosquitto checks of a string property: UTF-8
// of at most 65,535 bytes without NUL (MQTT5-1.5.4-1, MQTT5-1.5.4-2).
func validMQTTString(s string) bool {
	return len(s) <= math.MaxUint16 && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// atol is C's atol, atoi's 64-bit sibling.
func atol(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			break
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// checkProperties is mosquitto_property_check_all over each list, in the
// order and with the messages of client_config_load: a property given
// twice where MQTT 5.0 allows one (MQTT 5.0 §2.2.2.2), or a value the
// specification forbids (a zero Receive Maximum, Topic Alias or Maximum
// Packet Size, a request flag above 1).
func (l *PropertyList) checkProperties() error {
	for _, c := range []PropCommand{CmdConnect, CmdPublish, CmdSubscribe, CmdUnsubscribe, CmdDisconnect, CmdWill} {
		seen := map[packets.PropertyID]bool{}
		for _, p := range l[c] {
			msg := ""
			switch {
			case p.ID != packets.PropUserProperty && seen[p.ID]:
				msg = "Duplicate property in property list"
			case (p.ID == packets.PropRequestProblemInformation || p.ID == packets.PropRequestResponseInformation) && p.Int > 1,
				(p.ID == packets.PropReceiveMaximum || p.ID == packets.PropTopicAlias || p.ID == packets.PropMaximumPacketSize) && p.Int == 0:
				msg = "A network protocol error occurred when communicating with the broker."
			}
			if msg != "" {
				return &UsageError{Msg: fmt.Sprintf("Error in %s properties: %s\n", c.checkName(), msg), Hint: true}
			}
			seen[p.ID] = true
		}
	}
	return nil
}

// unsupportedProperty refuses a -D property the client cannot send, rather
// than leave it out without a word.
func unsupportedProperty(c PropCommand, p Property, why string) error {
	return &UsageError{Msg: fmt.Sprintf("Error: -D %s %s is not supported: %s.\n", c, p.Name, why)}
}

// apply5 sets what the MQTT 5.0 options and the -D properties of CONNECT
// and the will ask for in cfg.
func (o *Options) apply5(cfg *client.Config) error {
	m := &cfg.MQTT5
	auth := &connectAuth{}
	// mosquitto's tools send a Subscription Identifier only when -D asks.
	m.NoAutoSubscriptionIDs = true
	if o.sessionExpirySet && o.SessionExpiry == 0 {
		if err := o.applySessionExpiry(cfg, 0); err != nil {
			return err
		}
	}
	for _, p := range o.Properties[CmdConnect] {
		switch p.ID {
		case packets.PropSessionExpiryInterval:
			if err := o.applySessionExpiry(cfg, p.Int); err != nil {
				return err
			}
		case packets.PropReceiveMaximum:
			m.ReceiveMaximum = uint16(p.Int)
		case packets.PropTopicAliasMaximum:
			m.TopicAliasMaximum = uint16(p.Int)
		case packets.PropMaximumPacketSize:
			// The client's limit is on the Remaining Length; 5.0's on the
			// whole packet, which is at least 2 bytes longer.
			cfg.MaxPacketSize = max(int(p.Int)-2, 1)
		case packets.PropRequestProblemInformation:
			m.NoProblemInformation = p.Int == 0
		case packets.PropRequestResponseInformation:
			m.RequestResponseInformation = p.Int == 1
		case packets.PropUserProperty:
			m.UserProperties = append(m.UserProperties, client.UserProperty{Key: p.Key, Value: p.Str})
		case packets.PropAuthenticationMethod:
			auth.method, auth.set = p.Str, true
		case packets.PropAuthenticationData:
			auth.data = []byte(p.Str)
		}
	}
	if auth.set {
		m.Authenticator = auth
	} else if auth.data != nil {
		return unsupportedProperty(CmdConnect, Property{Name: "authentication-data"}, "it needs an authentication-method")
	}
	if cfg.Will == nil {
		return nil // as mosquitto: will properties without a will go nowhere
	}
	wp := new(client.WillProperties)
	for _, p := range o.Properties[CmdWill] {
		switch p.ID {
		case packets.PropPayloadFormatIndicator:
			if p.Int > 1 {
				return unsupportedProperty(CmdWill, p, "only 0 and 1 are valid (MQTT 5.0 §3.1.3.2.3)")
			}
			wp.PayloadUTF8 = p.Int == 1
		case packets.PropMessageExpiryInterval:
			wp.Expiry = time.Duration(p.Int) * time.Second
		case packets.PropContentType:
			wp.ContentType = p.Str
		case packets.PropResponseTopic:
			wp.ResponseTopic = p.Str
		case packets.PropCorrelationData:
			wp.CorrelationData = []byte(p.Str)
		case packets.PropWillDelayInterval:
			wp.Delay = time.Duration(p.Int) * time.Second
		case packets.PropUserProperty:
			wp.UserProperties = append(wp.UserProperties, client.UserProperty{Key: p.Key, Value: p.Str})
		}
	}
	if len(o.Properties[CmdWill]) > 0 {
		cfg.Will.Properties = wp
	}
	return nil
}

// applySessionExpiry sets the Session Expiry Interval. The client sends
// none for a clean session and 0xFFFFFFFF for a persistent one unless told
// otherwise, and caps what it is told at 0xFFFFFFFE.
func (o *Options) applySessionExpiry(cfg *client.Config, sec uint32) error {
	switch {
	case sec == math.MaxUint32 && cfg.PersistentSession:
		cfg.MQTT5.SessionExpiry = 0 // never, the client's default for -c
	case sec == 0 && cfg.PersistentSession:
		return &UsageError{Msg: "Error: -c with a session expiry interval of 0 is not supported: feedmq keeps a persistent session until it expires.\n"}
	default:
		cfg.MQTT5.SessionExpiry = time.Duration(sec) * time.Second
	}
	return nil
}

// PublishOptions returns the options of every publish of mqtt-pub: QoS,
// retain and the PUBLISH properties of -D. A Topic Alias turns the client's
// aliases on (Config.MQTT5.TopicAliases), which picks the number itself.
func (o *Options) PublishOptions() ([]client.PublishOption, error) {
	opts := []client.PublishOption{client.WithQoS(client.QoS(o.QoS))}
	if o.Retain {
		opts = append(opts, client.WithRetain())
	}
	for _, p := range o.Properties[CmdPublish] {
		switch p.ID {
		case packets.PropPayloadFormatIndicator:
			switch p.Int {
			case 0: // the default meaning; the client leaves it out
			case 1:
				opts = append(opts, client.WithPayloadUTF8())
			default:
				return nil, unsupportedProperty(CmdPublish, p, "only 0 and 1 are valid (MQTT 5.0 §3.3.2.3.2)")
			}
		case packets.PropMessageExpiryInterval:
			opts = append(opts, client.WithMessageExpiry(time.Duration(p.Int)*time.Second))
		case packets.PropContentType:
			opts = append(opts, client.WithContentType(p.Str))
		case packets.PropResponseTopic:
			opts = append(opts, client.WithResponseTopic(p.Str))
		case packets.PropCorrelationData:
			opts = append(opts, client.WithCorrelationData([]byte(p.Str)))
		case packets.PropUserProperty:
			opts = append(opts, client.WithUserProperty(p.Key, p.Str))
		}
	}
	return opts, nil
}

// SubscribeOptions returns the options of mqtt-sub's SUBSCRIBE:
// --retain-as-published and the User Properties of -D subscribe. At 3.1.1
// --retain-as-published has no effect, as in mosquitto_sub.
func (o *Options) SubscribeOptions() ([]client.SubscribeOption, error) {
	if o.Protocol != client.MQTT5 {
		return nil, nil
	}
	var opts []client.SubscribeOption
	if o.RetainAsPublished {
		opts = append(opts, client.WithRetainAsPublished())
	}
	for _, p := range o.Properties[CmdSubscribe] {
		switch p.ID {
		case packets.PropUserProperty:
			opts = append(opts, client.WithUserProperty(p.Key, p.Str))
		case packets.PropSubscriptionIdentifier:
			opts = append(opts, client.WithSubscriptionID(uint32(p.Int)))
		}
	}
	return opts, nil
}

// DisconnectOptions returns the DISCONNECT of -D disconnect.
func (o *Options) DisconnectOptions() (client.DisconnectOptions, error) {
	var d client.DisconnectOptions
	for _, p := range o.Properties[CmdDisconnect] {
		switch p.ID {
		case packets.PropSessionExpiryInterval:
			e := time.Duration(p.Int) * time.Second
			d.SessionExpiry = &e
		case packets.PropReasonString:
			d.ReasonString = p.Str
		case packets.PropUserProperty:
			d.UserProperties = append(d.UserProperties, client.UserProperty{Key: p.Key, Value: p.Str})
		case packets.PropServerReference:
			return d, unsupportedProperty(CmdDisconnect, p, "a client's DISCONNECT carries no Server Reference (MQTT 5.0 §3.14.2.2.5)")
		}
	}
	return d, nil
}

// connectAuth sends -D connect's authentication method and data in
// CONNECT, as mosquitto's tools do; like them it cannot answer a
// challenge, so an AUTH from the broker ends the attempt.
type connectAuth struct {
	method string
	data   []byte
	set    bool
}

func (a *connectAuth) Method() string                        { return a.method }
func (a *connectAuth) Start(context.Context) ([]byte, error) { return a.data, nil }
func (a *connectAuth) Done(context.Context, []byte) error    { return nil }
func (a *connectAuth) Continue(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("the broker asked to continue the authentication, which -D cannot do")
}
