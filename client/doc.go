// Package client is an asynchronous MQTT client that speaks 3.1.1 (the
// default), 3.1 and 5.0 behind one API.
//
// New validates a Config and does no I/O. Connect dials the first broker
// that accepts the connection and from then on the client reconnects by
// itself, with exponential backoff and jitter, until Disconnect or Close.
// After every reconnect on which the broker has no session, every
// subscription is made again.
//
// # Publishing
//
// Publish blocks until the message's QoS flow is complete (QoS 0: written to
// the connection; QoS 1: PUBACK; QoS 2: PUBCOMP) or its context ends;
// PublishAsync never blocks: it returns a Delivery to wait on, or
// ErrQueueFull when Config.MaxPending messages are pending. QoS 1 and 2
// messages are put in the Store before they are sent, and are resent after
// a reconnect with DUP set and their original packet identifier when the
// session persists (MQTT-4.4.0-1; at MQTT 5.0 only when CONNACK reports the
// session, otherwise they go out as new messages, MQTT5-3.2.2-5); a QoS 2
// message is never published again
// once its PUBREL went out (MQTT-4.3.3-1). While disconnected, QoS 1 and 2
// messages queue, up to Config.MaxPending. The errors say what happened to
// the message: see ErrDeliveryPending, ErrAbandoned and the others.
//
// # Receiving
//
// Subscribe registers a handler for a topic filter; SubscribeMany one
// handler for several. Each subscription has its own handler goroutine, so
// within it messages arrive in order, and the network reader never runs
// user code. Messages received and not yet handled count against one budget
// shared by all subscriptions (Config.HandlerQueue, HandlerQueueBytes); when
// it is spent the client stops reading from the connection until handlers
// catch up, so nothing the broker delivered is dropped (Config.SlowConsumer
// can choose dropping instead). A QoS 1 or 2 message is acknowledged after
// every handler it was given to has returned (at-least-once to the
// application); acknowledgments of one subscription keep the order of
// receipt (MQTT-4.6.0-2, MQTT-4.6.0-3; Config.OrderedAcks keeps it across
// subscriptions). A QoS 2 message is delivered once, even when the broker
// sends it again before PUBREL (MQTT-4.3.3-2), and this state survives
// reconnects and, with a file store, restarts. Messages no subscription
// matches go to Config.DefaultHandler and are acknowledged all the same
// (MQTT-4.5.0-2). A subscription with a nil handler is read with
// NextMessage instead; Feed adds typed values on top (NewFeed).
//
// # MQTT 5.0
//
// With Config.Protocol set to MQTT5 the same calls speak 5.0 (mqtt5.go).
// Config.MQTT5 groups what only 5.0 has; per-call options set message
// properties and subscription options, and return ErrNeedsMQTT5 on a 3.1.x
// client. Reason codes of 0x80 and above are errors (*ReasonError, with
// sentinels such as ErrNotAuthorized for errors.Is); the limits the broker
// sets in CONNACK are enforced locally (ErrNotSupported,
// ErrPacketTooLarge) and shown in ConnectedEvent.Server; the send window
// never exceeds the broker's Receive Maximum. Inbound topic aliases are
// resolved before routing; outbound ones are opt-in. Subscription
// Identifiers route messages exactly. Request and Reply do
// request/response, Message.Refuse refuses a message, Reauthenticate and
// Config.MQTT5.Authenticator run enhanced authentication (auth.go), and
// DisconnectWith sends a reason code.
//
// # Goroutines
//
// Each goroutine has one owner that starts and joins it; an idle connected
// client runs one (the read loop):
//
//   - The session goroutine (inbox.go, session.go, outbound.go,
//     subscribe.go, requests.go) owns the session: queued and in-flight
//     outbound messages, packet identifiers, subscriptions and SUBSCRIBE
//     requests. Callers and the reader hand it work through its inbox, a
//     batch it drains whole each time it wakes; nothing else touches that
//     state. It runs while there is work: the first post to find it
//     parked starts it, and it parks after a second without work. When the
//     client stops, a last session goroutine ends every open flow.
//   - The connection loop (connect.go) dials, performs CONNECT/CONNACK,
//     and, while a connection is up, runs its read loop (conn.go):
//     PUBLISH routing, the QoS 2 receiver and PUBREL are handled there
//     (inbound.go); acks of outbound messages go to the session. Each
//     accepted connection is served by a fresh goroutine that takes the
//     loop over, so the stack grown by dialling is not kept. It waits with
//     backoff between attempts. Started by Connect.
//   - One writer per connection (writer.go) writes what producers encoded
//     into the connection's pending batch. Nobody waits for it except a
//     caller who asked to, and it runs while there is something to write
//     (and a second after). While none runs, a packet whose sender waits
//     for it anyway (a blocking Publish, or the session goroutine on its
//     behalf) is written by that goroutine with a raw write that never
//     waits, on plain TCP and Unix sockets; what the socket does not take
//     goes to a writer, ahead of anything queued meanwhile. The connection
//     loop waits for both kinds of write before reconnecting.
//   - Keepalive (keepalive.go) runs on a timer, not a goroutine of its own;
//     a missing PINGRESP closes the socket from outside the writer.
//   - A handler goroutine per subscription (delivery.go) runs while its
//     queue has messages and exits when it is empty. Handlers send their
//     acknowledgments themselves (acks.go).
//   - The hooks goroutine (hooks.go) runs OnConnect, OnConnectionLost,
//     OnReconnecting and OnError in order while calls are queued.
//
// Locks are never held across I/O, a blocking send or user code; no lock
// is taken while another is held, except conn.mu and the store's inside
// ackTracker.mu and inbound.mu.
//
// Every method may be called from a handler or a hook, Disconnect and
// Close included. Close and Disconnect stop handlers from starting and join
// every goroutine but a handler or hook still running, which they wait for
// at most Config.CloseGrace (the one they are called from cannot return
// before them).
//
// # Memory
//
// The caller's payload is theirs again as soon as Publish or PublishAsync
// returns. PublishAsync copies a QoS 1 or 2 payload into a buffer the client
// recycles when the flow ends. Publish, which waits for the flow, uses the
// caller's buffer while it waits and copies it only when ctx ends first. A
// QoS 0 payload sent at once is encoded into the connection's buffer before
// either returns. A Message passed to a handler owns its topic and payload;
// handlers that share a Message must not modify it.
//
// A connection's read buffer rests at 4 KiB, grows up to 64 KiB while a
// flood keeps it full, and returns to 4 KiB once reads bring little again
// (two in a row: the PINGRESPs of a quiet connection).
package client
