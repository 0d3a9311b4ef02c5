package packets

import "strings"

// Reasons reported by the topic checks.
const (
	errEmptyTopic      = reason("topic is empty")
	errWildcardInTopic = reason("topic name contains a wildcard ('+' or '#')")
	errHashPlacement   = reason("'#' must be the last character and stand alone in its level")
	errPlusPlacement   = reason("'+' must fill a whole topic level")
	errShareName       = reason("a shared subscription ($share/) needs a share name of at least one character")
	errSharedFilter    = reason("a share name has no '+' or '#' and is followed by '/' and a topic filter")
)

// sharePrefix starts a shared subscription's filter (MQTT 5.0 §4.8.2).
const sharePrefix = "$share/"

// checkShareName enforces MQTT5-4.8.2-1: "$share/" is followed by a share
// name of at least one character.
func checkShareName(s string) error {
	if rest, ok := strings.CutPrefix(s, sharePrefix); ok && (rest == "" || rest[0] == '/') {
		return errShareName
	}
	return nil
}

// checkSharedFilter enforces MQTT5-4.8.2-2: the share name holds no '/',
// '+' or '#' and is followed by '/' and a topic filter.
func checkSharedFilter(s string) error {
	rest, ok := strings.CutPrefix(s, sharePrefix)
	if !ok {
		return nil
	}
	name, filter, found := strings.Cut(rest, "/")
	if !found || filter == "" || strings.ContainsAny(name, "+#") {
		return errSharedFilter
	}
	return nil
}

// checkNonEmpty enforces MQTT-4.7.3-1: topic names and filters are at least
// one character long.
func checkNonEmpty(s string) error {
	if s == "" {
		return errEmptyTopic
	}
	return nil
}

// checkNoWildcards enforces MQTT-3.3.2-2 and MQTT-4.7.1-1: a topic name
// contains neither '+' nor '#'.
func checkNoWildcards(s string) error {
	if strings.ContainsAny(s, "+#") {
		return errWildcardInTopic
	}
	return nil
}

// checkHashPlacement enforces MQTT-4.7.1-2: '#' stands alone or after '/',
// and only as the last character of a filter.
func checkHashPlacement(s string) error {
	i := strings.IndexByte(s, '#')
	if i < 0 {
		return nil
	}
	if i != len(s)-1 || (i > 0 && s[i-1] != '/') {
		return errHashPlacement
	}
	return nil
}

// checkPlusPlacement enforces MQTT-4.7.1-3: '+' occupies an entire level.
func checkPlusPlacement(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '+' {
			continue
		}
		if (i > 0 && s[i-1] != '/') || (i+1 < len(s) && s[i+1] != '/') {
			return errPlusPlacement
		}
	}
	return nil
}

// ValidateTopicName reports whether name may be used as the topic of a
// PUBLISH (MQTT 3.1.1 §4.7). The error is an *Error wrapping ErrMalformed.
func ValidateTopicName(name string) error {
	return validateTopic("TopicName", name, []topicCheck{
		{checkNonEmpty, "MQTT-4.7.3-1"},
		{checkUTF8, "MQTT-1.5.3-1"},
		{checkNoNull, "MQTT-4.7.3-2"},
		{checkNoWildcards, "MQTT-3.3.2-2"},
		{func(s string) error { return checkLen16(len(s)) }, "MQTT-4.7.3-3"},
	})
}

// ValidateTopicFilter reports whether filter may be subscribed to (MQTT 3.1.1
// §4.7). The error is an *Error wrapping ErrMalformed.
func ValidateTopicFilter(filter string) error {
	return validateTopic("TopicFilter", filter, []topicCheck{
		{checkNonEmpty, "MQTT-4.7.3-1"},
		{checkUTF8, "MQTT-1.5.3-1"},
		{checkNoNull, "MQTT-4.7.3-2"},
		{checkHashPlacement, "MQTT-4.7.1-2"},
		{checkPlusPlacement, "MQTT-4.7.1-3"},
		{func(s string) error { return checkLen16(len(s)) }, "MQTT-4.7.3-3"},
	})
}

type topicCheck struct {
	check func(string) error
	rule  string
}

func validateTopic(field, s string, checks []topicCheck) error {
	for _, c := range checks {
		if err := c.check(s); err != nil {
			return &Error{Op: "validate", Field: field, Offset: -1, Rule: c.rule, Reason: err.Error(), Err: ErrMalformed}
		}
	}
	return nil
}

// Match reports whether topic name matches filter, following MQTT 3.1.1 §4.7:
// '+' matches exactly one level, '#' matches the parent level and any number
// of levels below it, and a filter starting with a wildcard does not match a
// topic starting with '$' (MQTT-4.7.2-1). Both arguments are assumed valid.
func Match(filter, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		if filter == "#" {
			return true
		}
		fl, frest, fmore := strings.Cut(filter, "/")
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case fmore && !tmore:
			// "a/#" also matches "a" (§4.7.1.2).
			return frest == "#"
		case !fmore && tmore:
			return false
		}
		filter, topic = frest, trest
	}
}
