package main

import (
	"bufio"
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

// getenv reads the environment: the options file's location and
// MQTT_PASSWORD. Tests replace it.
var getenv = os.Getenv

// window bounds the -l messages published and not yet acknowledged; reading
// stdin waits when it is full.
const window = 1000

// run is mqtt-pub without the process around it: it parses args, publishes,
// and returns the exit status. Cancelling ctx (SIGINT or SIGTERM in main)
// stops it; messages not acknowledged by then are reported.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := cli.Parse(cli.Pub, args, getenv)
	if err != nil {
		return cli.ReportParseError(cli.Pub, err, stdout, stderr)
	}
	out := o.NewOutput(stdout, stderr)
	payload, err := loadPayload(o, stdin)
	if err != nil {
		return cli.ReportParseError(cli.Pub, err, stdout, out.Errors)
	}
	if o.Topic == "" || o.Mode == cli.ModeNone {
		io.WriteString(stderr, "Error: Both topic and message must be supplied.\n")
		cli.PrintUsage(stdout, cli.Pub)
		return cli.ExitFailure
	}
	cfg, err := o.ClientConfig(out)
	if err != nil {
		return cli.ReportParseError(cli.Pub, err, stdout, out.Errors)
	}
	opts, err := o.PublishOptions()
	if err != nil {
		return cli.ReportParseError(cli.Pub, err, stdout, out.Errors)
	}
	disc, err := o.DisconnectOptions()
	if err != nil {
		return cli.ReportParseError(cli.Pub, err, stdout, out.Errors)
	}
	// Lines published while the connection is down wait for it, whatever
	// their QoS.
	cfg.QueueQoS0 = true
	cfg.MaxPending = 2 * window
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintf(out.Errors, "Error: %s\n", strings.TrimPrefix(err.Error(), "client: "))
		return cli.ExitFailure
	}
	defer c.Close()

	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	if err := c.Connect(ctx); err != nil {
		switch {
		case ctx.Err() == context.DeadlineExceeded:
			io.WriteString(out.Errors, "Timed out\n")
			return cli.ExitTimeout
		case ctx.Err() != nil:
			return cli.ExitFailure // interrupted
		}
		return o.ReportConnectError(out.Errors, err)
	}

	p := &publisher{o: o, c: c, out: out, opts: opts}
	if o.Mode == cli.ModeStdinLine {
		p.lines(ctx, stdin)
	} else {
		p.repeat(ctx, payload)
	}
	if ctx.Err() == nil && c.Err() == nil {
		// Every message has its outcome; this only sends DISCONNECT, with
		// the properties of -D disconnect at 5.0.
		if err := c.DisconnectWith(ctx, disc); err != nil {
			p.fail(err)
		}
	}
	return p.status(ctx)
}

// loadPayload reads the message of -f and -s. Its errors are
// *cli.UsageError with mosquitto's messages.
func loadPayload(o *cli.Options, stdin io.Reader) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, &cli.UsageError{Msg: fmt.Sprintf(format, args...)}
	}
	switch o.Mode {
	case cli.ModeMessage:
		return []byte(o.Message), nil
	case cli.ModeStdinFile:
		data, err := io.ReadAll(io.LimitReader(stdin, packets.MaxRemainingLength+1))
		switch {
		case err != nil:
			return fail("Error loading input from stdin.\n")
		case len(data) == 0:
			return fail("Error: Zero length input.\nError loading input from stdin.\n")
		case len(data) > packets.MaxRemainingLength:
			return fail("Error: Message length must be less than %d bytes.\nError loading input from stdin.\n", packets.MaxRemainingLength)
		}
		return data, nil
	case cli.ModeFile:
		f, err := os.Open(o.File)
		if err != nil {
			return fail("Error: Unable to open file \"%s\".\nError loading input file \"%s\".\n", o.File, o.File)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, packets.MaxRemainingLength+1))
		switch {
		case err != nil:
			return fail("Error: Unable to read file \"%s\": %v.\nError loading input file \"%s\".\n", o.File, err, o.File)
		case len(data) > packets.MaxRemainingLength:
			return fail("Error: File must be less than %d bytes.\nError loading input file \"%s\".\n", packets.MaxRemainingLength, o.File)
		}
		return data, nil
	}
	return nil, nil
}

// publisher publishes and keeps the tally the exit status comes from.
type publisher struct {
	o    *cli.Options
	c    *client.Client
	out  cli.Output
	opts []client.PublishOption // QoS, retain and -D publish properties

	mu        sync.Mutex
	pending   int   // accepted and not acknowledged when waiting stopped
	lostQoS0  int   // QoS 0 messages that went down with a connection
	abandoned bool  // the client stopped with messages in flight
	failure   error // the first error that ends the run
}

// repeat publishes one message --repeat times, waiting for each to be
// complete (for QoS 1 and 2: acknowledged, across reconnects) and then
// --repeat-delay before the next, as mosquitto_pub does.
func (p *publisher) repeat(ctx context.Context, payload []byte) {
	for i := 0; i < p.o.Repeat; i++ {
		if i > 0 && p.o.RepeatDelay > 0 {
			t := time.NewTimer(p.o.RepeatDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		if !p.record(p.c.Publish(ctx, p.o.Topic, payload, p.opts...)) {
			return
		}
	}
}

// lines publishes each line of stdin as it comes (-l), until the end of
// stdin. Up to window messages are in flight at once; a goroutine waits for
// their outcomes in order.
//
// A read from stdin cannot be interrupted, so when ctx ends first the
// reading goroutine is left to end with the process.
func (p *publisher) lines(ctx context.Context, stdin io.Reader) {
	type line struct {
		data []byte
		err  error
	}
	lines := make(chan line)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(stdin, 64<<10)
		for {
			data, err := r.ReadBytes('\n')
			if len(data) > 0 && data[len(data)-1] == '\n' {
				data = data[:len(data)-1]
			} else if err == io.EOF && len(data) == 0 {
				return // a final line end, or no input at all
			}
			if err != nil && err != io.EOF {
				select {
				case lines <- line{err: err}:
				case <-ctx.Done():
				}
				return
			}
			select {
			case lines <- line{data: data}:
			case <-ctx.Done():
				return
			}
			if err == io.EOF {
				return
			}
		}
	}()

	deliveries := make(chan *client.Delivery, window)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for d := range deliveries {
			p.record(d.Wait(ctx))
		}
	}()
	defer func() {
		close(deliveries)
		<-waited
	}()
	for {
		var l line
		var ok bool
		select {
		case l, ok = <-lines:
		case <-ctx.Done():
			return
		case <-p.c.Done():
			return
		}
		switch {
		case !ok:
			return
		case l.err != nil:
			p.fail(fmt.Errorf("reading stdin: %w", l.err))
			return
		}
		d, err := p.c.PublishAsync(p.o.Topic, l.data, p.opts...)
		if err != nil {
			p.record(err)
			return
		}
		select {
		case deliveries <- d:
		case <-ctx.Done():
			p.record(d.Wait(ctx))
			return
		}
	}
}

// record takes the outcome of one message and reports whether publishing
// may go on.
func (p *publisher) record(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil:
		return true
	case errors.Is(err, client.ErrConnectionLost):
		// A QoS 0 message the connection took down with it: at most once
		// means it is not sent again.
		p.lostQoS0++
		return true
	case errors.Is(err, client.ErrAbandoned):
		p.pending++
		p.abandoned = true
		return false
	case errors.Is(err, client.ErrDeliveryPending),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		p.pending++
		return false
	}
	if p.failure == nil {
		p.failure = err
	}
	return false
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failure == nil {
		p.failure = err
	}
}

// status reports how the run ended and returns the exit status.
func (p *publisher) status(ctx context.Context) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.abandoned || errors.Is(p.failure, client.ErrClosed) {
		// The client stopped by itself, which it does when it gives up on
		// a broker that refuses to take it back; Err says why once Done is
		// closed, a moment after the calls fail.
		select {
		case <-p.c.Done():
		case <-time.After(5 * time.Second):
		}
	}
	if err := p.c.Err(); err != nil {
		return p.o.ReportConnectError(p.out.Errors, err)
	}
	if p.failure != nil {
		fmt.Fprintf(p.out.Errors, "Error: %s\n", strings.TrimPrefix(p.failure.Error(), "client: "))
		return cli.ExitFailure
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		fmt.Fprintf(p.out.Errors, "Timed out with %d message(s) not acknowledged by the broker.\n", p.pending)
		return cli.ExitTimeout
	case p.pending > 0:
		fmt.Fprintf(p.out.Errors, "Error: Interrupted with %d message(s) not acknowledged by the broker.\n", p.pending)
		return cli.ExitFailure
	case p.lostQoS0 > 0:
		fmt.Fprintf(p.out.Errors, "Error: %d QoS 0 message(s) lost with the connection; use -q 1 or -q 2 to have them resent.\n", p.lostQoS0)
		return cli.ExitFailure
	}
	return cli.ExitOK
}
