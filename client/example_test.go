package client_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/embedbroker"
	"github.com/feedmq/feedmq/store"
)

// exampleBroker starts an in-process broker on a free loopback port, so the
// examples run without mosquitto. It returns the broker's URL.
func exampleBroker() (url string, stop func()) {
	b, err := embedbroker.Start()
	if err != nil {
		panic(err)
	}
	return b.URL(), b.Close
}

func ExampleClient_Connect() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	connected := make(chan client.ConnectedEvent, 1)
	c, err := client.New(client.Config{
		Brokers:  []string{url},
		ClientID: "example-connect",
		// Hooks run on a goroutine of their own after every CONNACK.
		OnConnect: func(ev client.ConnectedEvent) { connected <- ev },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Disconnect(ctx)
	ev := <-connected
	fmt.Println("connected, session present:", ev.SessionPresent)
	// Output: connected, session present: false
}

func ExampleClient_Publish() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.New(client.Config{Brokers: []string{url}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Disconnect(ctx)

	got := make(chan *client.Message, 1)
	if _, err := c.Subscribe(ctx, "sensors/+/temperature", client.AtLeastOnce, func(m *client.Message) { got <- m }); err != nil {
		fmt.Println(err)
		return
	}
	// Publish returns when the broker has acknowledged the QoS 1 message.
	if err := c.Publish(ctx, "sensors/kitchen/temperature", []byte("21.5"), client.WithQoS(client.AtLeastOnce)); err != nil {
		fmt.Println(err)
		return
	}
	m := <-got
	fmt.Printf("%s: %s (QoS %d)\n", m.Topic, m.Payload, m.QoS)
	// Output: sensors/kitchen/temperature: 21.5 (QoS 1)
}

func ExampleNewFeed() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.New(client.Config{Brokers: []string{url}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Disconnect(ctx)

	// A feed per topic, with typed values, after the Adafruit MQTT library.
	slider, err := client.NewFeed(c, "me/feeds/slider", client.FloatCodec{}, client.WithQoS(client.AtLeastOnce))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := slider.Subscribed(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := slider.Publish(ctx, 0.75); err != nil {
		fmt.Println(err)
		return
	}
	// Without a callback, messages wait for Next: a poll-style read.
	v, _, err := slider.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("slider:", v)
	// Output: slider: 0.75
}

// Example_fileStore keeps QoS 1 and 2 messages on disk, so a message the
// broker has not acknowledged survives a restart of the program: a client
// opened later on the same directory and client id sends it.
func Example_fileStore() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "feedmq-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	st, err := store.OpenFile(dir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	c, err := client.New(client.Config{
		Brokers:           []string{url},
		ClientID:          "example-device",
		PersistentSession: true,
		Store:             st,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Disconnect(ctx)
	err = c.Publish(ctx, "devices/example/status", []byte("online"), client.WithQoS(client.ExactlyOnce), client.WithRetain())
	fmt.Println("published:", err == nil)
	// Output: published: true
}
