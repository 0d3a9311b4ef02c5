package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/cli"
	"github.com/feedmq/feedmq/packets"
)

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
	out := o.NewOutput(stdout, stderr)
	cfg, err := o.ClientConfig(out)
	if err != nil {
		return cli.ReportParseError(cli.Sub, err, stdout, out.Errors)
	}
	subOpts, err := o.SubscribeOptions()
	if err != nil {
		return cli.ReportParseError(cli.Sub, err, stdout, out.Errors)
	}
	disc, err := o.DisconnectOptions()
	if err != nil {
		return cli.ReportParseError(cli.Sub, err, stdout, out.Errors)
	}
	if len(o.Properties[cli.CmdUnsubscribe]) > 0 && len(o.Unsubscribe) > 0 {
		// The client's Unsubscribe sends no properties.
		return cli.ReportParseError(cli.Sub, &cli.UsageError{Msg: "Error: -D unsubscribe user-property is not supported: the client sends UNSUBSCRIBE without properties.\n"}, stdout, out.Errors)
	}
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
		subOpts: subOpts,
		out:     out,
		stdout:  out.Stdout,
		stop:    stop,
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
	c.DisconnectWith(dctx, disc)
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
	subOpts []client.SubscribeOption // --retain-as-published, -D subscribe

	// Owned by the one handler goroutine of the subscription.
	count int  // messages counted towards -C
	done  bool // stopped taking messages
}

// subscribe makes the subscriptions in one SUBSCRIBE, as mosquitto_sub
// does, then the unsubscriptions. All filters share one handler goroutine,
// so messages print in the order they arrived, whichever filter they
// matched, and a message matching several filters prints once. A refused
// filter is reported and skipped, as mosquitto_sub goes on without it; any
// other error ends the run, which it also does when runCtx ends meanwhile.
func (s *subscriber) subscribe(ctx context.Context) error {
	filters := make([]client.TopicFilter, len(s.o.Topics))
	for i, f := range s.o.Topics {
		filters[i] = client.TopicFilter{Filter: f, QoS: client.QoS(s.o.QoS)}
	}
	granted, err := s.c.SubscribeMany(ctx, filters, s.handle, s.subOpts...)
	var refused *client.SubscribeError
	switch {
	case errors.As(err, &refused):
		for _, f := range refused.Refused {
			fmt.Fprintf(s.out.Errors, "Warning: Subscription to %s refused by the broker.\n", f)
		}
	case err != nil:
		return err
	}
	if s.o.Debug {
		// The trace shows the granted QoS ("Subscribed (mid: 1): 1"), as
		// mosquitto_sub's does; a downgrade (RabbitMQ grants QoS 1 to a
		// QoS 2 subscription) also gets a warning, which it lacks.
		for i, f := range filters {
			if i < len(granted) && !slices.Contains(refusedFilters(refused), f.Filter) && granted[i] < f.QoS {
				fmt.Fprintf(s.out.Errors, "Warning: the broker granted QoS %d for %s, QoS %d was requested.\n", granted[i], f.Filter, f.QoS)
			}
		}
	}
	if len(s.o.Unsubscribe) > 0 {
		if err := s.c.Unsubscribe(ctx, s.o.Unsubscribe...); err != nil {
			return err
		}
	}
	if s.o.ExitAfterSubscribe {
		s.stop(errFinished)
		return errFinished
	}
	return nil
}

// handle is the handler of the subscription, called on its one goroutine
// for each PUBLISH received, in order.
func (s *subscriber) handle(m *client.Message) {
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
	msg := cli.Message{Topic: m.Topic, Payload: m.Payload, QoS: int(m.QoS), Retained: m.Retained, MID: int(m.PacketID), Props: m.Properties}
	s.printer.Print(s.stdout, &msg, time.Now())
	if o.Count > 0 {
		if s.count++; s.count == o.Count {
			s.finish()
		}
	}
}

// refusedFilters lists the filters of a SUBACK refusal, none for nil.
func refusedFilters(e *client.SubscribeError) []string {
	if e == nil {
		return nil
	}
	return e.Refused
}

func (s *subscriber) finish() {
	s.done = true
	s.stop(errFinished)
}
