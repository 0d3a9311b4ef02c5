package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/cli"
	"github.com/feedmq/feedmq/packets"
)

// handlerQueue is how many messages may wait for stdout before the client
// drops them (see client.ErrSlowConsumer): more than the client's default,
// since a terminal or a pipe can stall for a while.
const handlerQueue = 1 << 16

// disconnectTimeout bounds the wait, on the way out, for the messages of
// --remove-retained to be acknowledged.
const disconnectTimeout = 10 * time.Second

// getenv reads the environment: the options file's location and
// MQTT_PASSWORD. Tests replace it.
var getenv = os.Getenv

// Why a run ends, as the cause of its context.
var (
	errFinished = errors.New("finished")  // -C, -E, --retained-only
	errTimedOut = errors.New("timed out") // -W
)

// run is mqtt-sub without the process around it: it parses args, prints
// the messages to stdout, and returns the exit status. Cancelling ctx
// (SIGINT or SIGTERM in main) ends it with status 0, as mosquitto_sub.
func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, err := cli.Parse(cli.Sub, args, getenv)
	if err != nil {
		return cli.ReportParseError(cli.Sub, err, stdout, stderr)
	}
	out := o.NewOutput(stderr)
	cfg, err := o.ClientConfig(out)
	if err != nil {
		return cli.ReportParseError(cli.Sub, err, stdout, out.Errors)
	}
	cfg.HandlerQueue = handlerQueue
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintf(out.Errors, "Error: %s\n", strings.TrimPrefix(err.Error(), "client: "))
		return cli.ExitFailure
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		if ctx.Err() != nil {
			return cli.ExitFailure // interrupted
		}
		return o.ReportConnectError(out.Errors, err)
	}

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if o.WaitTimeout > 0 {
		// mosquitto_sub starts its alarm once connected, too.
		t := time.AfterFunc(o.WaitTimeout, func() { stop(errTimedOut) })
		defer t.Stop()
	}
	s := &subscriber{
		o:       o,
		c:       c,
		out:     out,
		stdout:  stdout,
		stop:    stop,
		filters: map[string]bool{},
		seen:    map[*client.Message]int{},
		printer: cli.Printer{
			Format:       o.Format,
			Verbose:      o.Verbose,
			EOL:          o.EOL,
			Pretty:       o.Pretty,
			RandomFilter: o.RandomFilter,
			Errors:       out.Errors,
		},
	}
	err = s.subscribe(runCtx)
	if err == nil {
		select {
		case <-runCtx.Done():
		case <-c.Done():
		}
	}

	switch {
	case c.Err() != nil:
		// The client gave up: a broker that refused to take it back.
		return o.ReportConnectError(out.Errors, c.Err())
	case err != nil && runCtx.Err() == nil:
		fmt.Fprintf(out.Errors, "Error: %s\n", strings.TrimPrefix(err.Error(), "client: "))
		return cli.ExitFailure
	}
	dctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
	defer cancel()
	c.Disconnect(dctx)
	if context.Cause(runCtx) == errTimedOut {
		io.WriteString(out.Errors, "Timed out\n")
		return cli.ExitTimeout
	}
	return cli.ExitOK
}

// subscriber receives the messages of every subscription and decides, as
// mosquitto_sub's message callback, which to print and when to stop.
type subscriber struct {
	o       *cli.Options
	c       *client.Client
	out     cli.Output
	stdout  io.Writer
	printer cli.Printer
	stop    context.CancelCauseFunc

	// mu guards what follows, and orders the output.
	mu      sync.Mutex
	filters map[string]bool         // the filters subscribed to, one subscription each
	seen    map[*client.Message]int // copies of a message still to come from other subscriptions
	count   int                     // messages counted towards -C
	done    bool                    // stopped taking messages
}

// subscribe makes every subscription, then the unsubscriptions, in the order
// mosquitto_sub sends them. A refused subscription is reported and skipped,
// as mosquitto_sub goes on without it; any other error ends the run, which
// it also does when runCtx ends meanwhile.
func (s *subscriber) subscribe(ctx context.Context) error {
	for _, filter := range s.o.Topics {
		s.mu.Lock()
		s.filters[filter] = true
		s.mu.Unlock()
		granted, err := s.c.Subscribe(ctx, filter, client.QoS(s.o.QoS), s.handle)
		switch {
		case errors.Is(err, client.ErrSubscriptionRefused):
			s.mu.Lock()
			delete(s.filters, filter)
			s.mu.Unlock()
			fmt.Fprintf(s.out.Errors, "Warning: Subscription to %s refused by the broker.\n", filter)
			continue
		case err != nil:
			return err
		}
		if log := s.out.Log; log != nil {
			log.Debug("subscribed", "filter", filter, "granted_qos", int(granted))
		}
	}
	if len(s.o.Unsubscribe) > 0 {
		if err := s.c.Unsubscribe(ctx, s.o.Unsubscribe...); err != nil {
			return err
		}
		s.mu.Lock()
		for _, f := range s.o.Unsubscribe {
			delete(s.filters, f)
		}
		s.mu.Unlock()
		if log := s.out.Log; log != nil {
			log.Debug("unsubscribed", "filters", s.o.Unsubscribe)
		}
	}
	if s.o.ExitAfterSubscribe {
		s.stop(errFinished)
		return errFinished
	}
	return nil
}

// handle is the handler of every subscription. The client gives a message
// to each subscription it matches, so with overlapping filters the same
// *Message arrives more than once; it is handled the first time, as
// mosquitto_sub handles each PUBLISH once.
func (s *subscriber) handle(m *client.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.seen[m]; ok {
		if n <= 1 {
			delete(s.seen, m)
		} else {
			s.seen[m] = n - 1
		}
		return
	}
	if n := s.matches(m.Topic); n > 1 {
		s.seen[m] = n - 1
	}
	if s.done {
		return
	}
	o := s.o
	if o.RetainedOnly && !m.Retained {
		s.finish()
		return
	}
	if m.Retained && o.NoRetained {
		return
	}
	for _, f := range o.FilterOuts {
		if packets.Match(f, m.Topic) {
			return
		}
	}
	if o.RemoveRetained && m.Retained {
		// An empty retained message clears the topic; mosquitto_sub sends
		// it with QoS 1. Disconnect waits for it.
		s.c.PublishAsync(m.Topic, nil, client.WithQoS(client.AtLeastOnce), client.WithRetain())
	}
	// %m is the packet identifier the broker chose, 0 at QoS 0, as in
	// mosquitto_sub.
	msg := cli.Message{Topic: m.Topic, Payload: m.Payload, QoS: int(m.QoS), Retained: m.Retained, MID: int(m.PacketID)}
	s.printer.Print(s.stdout, &msg, time.Now())
	if o.Count > 0 {
		if s.count++; s.count == o.Count {
			s.finish()
		}
	}
}

func (s *subscriber) finish() {
	s.done = true
	s.stop(errFinished)
}

// matches counts the subscribed filters topic matches: the subscriptions
// the client hands a message on it to. The matching is packets.Match, the
// client's own; only the shared-subscription prefix is stripped here, as
// the client strips it without exporting how.
func (s *subscriber) matches(topic string) int {
	n := 0
	for f := range s.filters {
		if packets.Match(matchFilter(f), topic) {
			n++
		}
	}
	return n
}

// matchFilter is the filter topics are matched against: without the prefix
// of a shared subscription, as the client routes them.
func matchFilter(filter string) string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			return f
		}
	}
	if f, ok := strings.CutPrefix(filter, "$queue/"); ok {
		return f
	}
	return filter
}
