// Package client is an asynchronous MQTT 3.1.1 (and 3.1) client.
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
// PublishAsync returns at once with a Delivery to wait on. QoS 1 and 2
// messages are put in the Store before they are sent, and are resent after a
// reconnect with DUP set and their original packet identifier when the
// session persists (MQTT-4.4.0-1); a QoS 2 message is never published again
// once its PUBREL went out (MQTT-4.3.3-1). While disconnected, messages
// queue, up to Config.MaxPending. The errors say what happened to the
// message: see ErrDeliveryPending, ErrAbandoned and the others.
//
// # Receiving
//
// Subscribe registers a handler for a topic filter. Each subscription has its
// own goroutine and a bounded queue (Config.HandlerQueue), so a slow handler
// delays neither pings nor other subscriptions: the network reader never
// runs user code. Within one subscription messages arrive in order. A QoS 1
// or 2 message is acknowledged after every handler it was given to has
// returned (at-least-once to the application); acknowledgments of one
// subscription keep the order of receipt (MQTT-4.6.0-2, MQTT-4.6.0-3), and
// those of different subscriptions do not wait for each other. A QoS 2
// message is delivered once, even when the broker sends it again before
// PUBREL (MQTT-4.3.3-2), and this state survives reconnects and, with a file
// store, restarts. Messages no subscription matches go to
// Config.DefaultHandler and are acknowledged all the same (MQTT-4.5.0-2).
// A subscription with a nil handler is read with NextMessage instead; Feed
// adds typed values on top (NewFeed).
//
// # Goroutines
//
// The session goroutine owns all session state; the supervisor owns the
// connection and its reader and writer goroutines; delivery goroutines run
// handlers; the hooks goroutine runs OnConnect, OnConnectionLost,
// OnReconnecting and OnError. Every method may be called from a handler or a
// hook, Disconnect and Close included. Close and Disconnect return after
// every goroutine the client started has exited.
//
// # Memory
//
// Publish copies the payload before it returns. A Message passed to a
// handler owns its payload; handlers that share a Message must not modify it.
package client
