// Command quickstart shows feedmq working with nothing installed: it starts
// an MQTT broker inside the process (mochi-mqtt, on a free loopback port,
// see internal/embedbroker),
// connects a client, creates a feed with a typed callback, publishes three
// readings to it, prints what arrives, and exits 0.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/embedbroker"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// An embedded broker, so the example needs no mosquitto. The library
	// itself never imports it.
	broker, err := embedbroker.Start()
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintln(out, "broker listening on", broker.URL())

	c, err := client.New(client.Config{Brokers: []string{broker.URL()}})
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		return err
	}
	defer c.Disconnect(ctx)

	// A feed is a topic you publish typed values on and receive them from.
	temperature, err := client.NewFeed(c, "quickstart/temperature", client.FloatCodec{}, client.WithQoS(client.AtLeastOnce))
	if err != nil {
		return err
	}
	received := make(chan float64)
	temperature.OnMessage(func(celsius float64, m *client.Message) {
		fmt.Fprintf(out, "received %s = %.1f °C\n", m.Topic, celsius)
		received <- celsius
	})
	if _, err := temperature.Subscribed(ctx); err != nil {
		return err
	}

	for _, celsius := range []float64{21.5, 22.0, 22.5} {
		// Publish returns when the broker acknowledged the QoS 1 message.
		if err := temperature.Publish(ctx, celsius); err != nil {
			return err
		}
		select {
		case got := <-received:
			if got != celsius {
				return fmt.Errorf("sent %v, received %v", celsius, got)
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for %v: %w", celsius, ctx.Err())
		}
	}
	fmt.Fprintln(out, "done: 3 readings published and received")
	return nil
}
