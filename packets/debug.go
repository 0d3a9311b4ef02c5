package packets

import "strconv"

// fieldWriter builds the String form of a packet for logs and debugging:
// PUBLISH{QoS:1 TopicName:"a/b" PacketID:7 Payload:<5 bytes>}. Generated
// String methods call it; secrets are written as <redacted>.
type fieldWriter struct {
	b     []byte
	first bool
}

func newFieldWriter(name string) *fieldWriter {
	w := &fieldWriter{b: make([]byte, 0, 64), first: true}
	w.b = append(w.b, name...)
	w.b = append(w.b, '{')
	return w
}

func (w *fieldWriter) sep() {
	if !w.first {
		w.b = append(w.b, ' ')
	}
	w.first = false
}

func (w *fieldWriter) name(n string) {
	w.sep()
	w.b = append(w.b, n...)
	w.b = append(w.b, ':')
}

func (w *fieldWriter) bool(n string, v bool) {
	w.name(n)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *fieldWriter) uint(n string, v uint64) {
	w.name(n)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *fieldWriter) str(n, v string) {
	w.name(n)
	w.b = strconv.AppendQuote(w.b, v)
}

func (w *fieldWriter) bytes(n string, v []byte) {
	w.name(n)
	w.b = append(w.b, '<')
	w.b = strconv.AppendInt(w.b, int64(len(v)), 10)
	w.b = append(w.b, " bytes>"...)
}

func (w *fieldWriter) secret(n string) {
	w.name(n)
	w.b = append(w.b, "<redacted>"...)
}

func (w *fieldWriter) openList(n string) {
	w.name(n)
	w.b = append(w.b, '[')
	w.first = true
}

func (w *fieldWriter) closeList() {
	w.b = append(w.b, ']')
	w.first = false
}

func (w *fieldWriter) openElem() {
	w.sep()
	w.b = append(w.b, '{')
	w.first = true
}

func (w *fieldWriter) closeElem() {
	w.b = append(w.b, '}')
	w.first = false
}

func (w *fieldWriter) elemStr(v string) {
	w.sep()
	w.b = strconv.AppendQuote(w.b, v)
}

func (w *fieldWriter) elemUint(v uint64) {
	w.sep()
	w.b = strconv.AppendUint(w.b, v, 10)
}

// openStruct starts a named group of fields, such as Properties:{…};
// closeElem ends it.
func (w *fieldWriter) openStruct(n string) {
	w.name(n)
	w.b = append(w.b, '{')
	w.first = true
}

func (w *fieldWriter) elemPair(k, v string) {
	w.sep()
	w.b = strconv.AppendQuote(w.b, k)
	w.b = append(w.b, ':')
	w.b = strconv.AppendQuote(w.b, v)
}

func (w *fieldWriter) close() string {
	return string(append(w.b, '}'))
}
