// Command adafruit is the Adafruit MQTT library's feed sketches done the
// feedmq way: a photocell feed published every few seconds, and callbacks
// for an on/off switch (string), a slider (float) and the broker's clock
// (integer seconds). Topics follow Adafruit IO: <username>/feeds/<name>.
//
//	AIO_USERNAME=me AIO_KEY=secret go run ./examples/adafruit
//	go run ./examples/adafruit -broker mqtt://localhost:1883 -username me -key secret
//
// The key is read from the environment or a flag; it is never printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/feedmq/feedmq/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "adafruit:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("adafruit", flag.ContinueOnError)
	broker := fs.String("broker", envOr("AIO_BROKER", "mqtts://io.adafruit.com:8883"), "broker URL ($AIO_BROKER)")
	username := fs.String("username", os.Getenv("AIO_USERNAME"), "Adafruit IO user name ($AIO_USERNAME)")
	key := fs.String("key", os.Getenv("AIO_KEY"), "Adafruit IO key ($AIO_KEY)")
	interval := fs.Duration("interval", 5*time.Second, "how often the photocell publishes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("set -username or AIO_USERNAME")
	}
	c, err := client.New(client.Config{
		Brokers:  []string{*broker},
		Username: *username,
		Password: *key,
		OnConnect: func(ev client.ConnectedEvent) {
			fmt.Fprintln(out, "connected to", ev.Broker)
		},
		OnConnectionLost: func(err error) { fmt.Fprintln(out, "connection lost:", err) },
		OnError:          func(err error) { fmt.Fprintln(out, "error:", err) },
	})
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		return err
	}
	defer c.Close()

	feed := func(name string) string { return *username + "/feeds/" + name }
	photocell, err := client.NewFeed(c, feed("photocell"), client.IntCodec{}, client.WithQoS(client.AtLeastOnce))
	if err != nil {
		return err
	}
	onoff, err := client.NewFeed(c, feed("onoff"), client.StringCodec{})
	if err != nil {
		return err
	}
	slider, err := client.NewFeed(c, feed("slider"), client.FloatCodec{})
	if err != nil {
		return err
	}
	seconds, err := client.NewFeed(c, "time/seconds", client.IntCodec{})
	if err != nil {
		return err
	}
	onoff.OnMessage(func(v string, _ *client.Message) { fmt.Fprintln(out, "onoff:", v) })
	slider.OnMessage(func(v float64, _ *client.Message) { fmt.Fprintf(out, "slider: %g\n", v) })
	seconds.OnMessage(func(v int64, _ *client.Message) {
		fmt.Fprintln(out, "time:", time.Unix(v, 0).UTC().Format(time.RFC3339))
	})

	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			light := int64(rand.IntN(1024)) // a simulated light sensor
			if err := photocell.Publish(ctx, light); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				fmt.Fprintln(out, "photocell: publish failed:", err)
				continue
			}
			fmt.Fprintln(out, "photocell:", light)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
