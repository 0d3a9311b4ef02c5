// Command gateway is a device-side gateway. Local devices send readings as
// UDP datagrams "<device> <value>" (or as stdin lines with -stdin); the
// gateway publishes each at QoS 1 to <prefix>/<device>/reading through a
// file store and a persistent session, so readings survive a broker outage
// and a restart of the gateway itself. Commands published to
// <prefix>/<device>/command go back to the device: as a datagram to the
// address it last sent from, or printed for stdin devices.
//
//	go run ./examples/gateway -broker mqtt://localhost:1883 -simulate
//
// -simulate adds a device inside the program that sends a reading every
// -interval and prints the commands it receives.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

type options struct {
	broker, id, storeDir, listen, prefix string
	stdin, simulate                      bool
	interval                             time.Duration
	maxPending                           int
}

func parse(args []string) (options, error) {
	host, _ := os.Hostname()
	var o options
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.StringVar(&o.broker, "broker", "mqtt://localhost:1883", "broker URL")
	fs.StringVar(&o.id, "id", "gateway-"+host, "client id; it keys the persistent session")
	fs.StringVar(&o.storeDir, "store", "gateway-store", "directory of the file store")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9999", "UDP address devices send readings to (empty: none)")
	fs.StringVar(&o.prefix, "prefix", "gateway", "topic prefix")
	fs.BoolVar(&o.stdin, "stdin", false, "also read \"<device> <value>\" lines from standard input")
	fs.BoolVar(&o.simulate, "simulate", false, "run a simulated device against -listen")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "reading interval of the simulated device")
	fs.IntVar(&o.maxPending, "max-pending", 100_000, "readings kept while the broker is unreachable")
	return o, fs.Parse(args)
}

// gateway forwards readings to the broker and commands to devices.
type gateway struct {
	o   options
	c   *client.Client
	out io.Writer

	mu      sync.Mutex
	devices map[string]net.Addr // where each UDP device last sent from
	udp     net.PacketConn
}

func run(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	// The file store keeps every reading that the broker has not
	// acknowledged, across broker outages and gateway restarts.
	st, err := store.OpenFile(o.storeDir, &store.FileOptions{Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := client.New(client.Config{
		Brokers:           []string{o.broker},
		ClientID:          o.id,
		PersistentSession: true,
		Store:             st,
		MaxPending:        o.maxPending,
		ConnectRetry:      true,
		Reconnect:         client.Backoff{InitialDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second},
		OnConnect: func(ev client.ConnectedEvent) {
			fmt.Fprintf(out, "connected to %s (session present: %v)\n", ev.Broker, ev.SessionPresent)
		},
		OnConnectionLost: func(err error) { fmt.Fprintln(out, "connection lost:", err) },
	})
	if err != nil {
		return err
	}
	g := &gateway{o: o, c: c, out: out, devices: map[string]net.Addr{}}

	commands, err := client.NewFeed(c, o.prefix+"/+/command", client.BytesCodec{}, client.WithQoS(client.AtLeastOnce))
	if err != nil {
		return err
	}
	commands.OnMessage(g.command)

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Readings are accepted while the broker is still unreachable: they
	// queue in the store until Connect succeeds.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.Connect(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(out, "connect:", err)
			cancel()
		}
	}()
	defer func() {
		// Give queued readings a moment to reach the broker; what is left
		// stays in the store for the next run.
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer dcancel()
		if err := c.Disconnect(dctx); err != nil {
			fmt.Fprintln(out, "stopped with readings still stored:", err)
		}
	}()

	if o.listen != "" {
		if g.udp, err = net.ListenPacket("udp", o.listen); err != nil {
			return err
		}
		defer g.udp.Close()
		fmt.Fprintln(out, "listening for devices on", g.udp.LocalAddr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.readUDP(ctx)
		}()
		if o.simulate {
			wg.Add(1)
			go func() {
				defer wg.Done()
				simulate(ctx, g.udp.LocalAddr().String(), o.interval, out)
			}()
		}
	}
	if o.stdin {
		go g.readLines(ctx, stdin) // ends with stdin; not joined, as a read cannot be interrupted
	}
	<-ctx.Done()
	if g.udp != nil {
		g.udp.Close() // ends readUDP
	}
	return ctx.Err()
}

// reading publishes one reading. PublishAsync returns once the reading is
// stored, so a slow or absent broker never holds up the devices.
func (g *gateway) reading(line string, from net.Addr) {
	device, value, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok || device == "" || strings.ContainsAny(device, "/+#") {
		fmt.Fprintf(g.out, "ignored %q: want \"<device> <value>\"\n", line)
		return
	}
	if from != nil {
		g.mu.Lock()
		g.devices[device] = from
		g.mu.Unlock()
	}
	topic := g.o.prefix + "/" + device + "/reading"
	value = strings.TrimSpace(value)
	if _, err := g.c.PublishAsync(topic, []byte(value), client.WithQoS(client.AtLeastOnce)); err != nil {
		fmt.Fprintf(g.out, "reading from %s dropped: %v\n", device, err)
		return
	}
	fmt.Fprintf(g.out, "queued %s %s\n", device, value)
}

func (g *gateway) readUDP(ctx context.Context) {
	buf := make([]byte, 2048)
	for {
		n, from, err := g.udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintln(g.out, "udp:", err)
			}
			return
		}
		g.reading(string(buf[:n]), from)
	}
}

func (g *gateway) readLines(ctx context.Context, r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() && ctx.Err() == nil {
		g.reading(sc.Text(), nil)
	}
}

// command forwards <prefix>/<device>/command to the device.
func (g *gateway) command(payload []byte, m *client.Message) {
	device := strings.TrimSuffix(strings.TrimPrefix(m.Topic, g.o.prefix+"/"), "/command")
	g.mu.Lock()
	addr := g.devices[device]
	g.mu.Unlock()
	if addr == nil || g.udp == nil {
		fmt.Fprintf(g.out, "command for %s: %s\n", device, payload)
		return
	}
	if _, err := g.udp.WriteTo(payload, addr); err != nil {
		fmt.Fprintf(g.out, "command for %s not delivered: %v\n", device, err)
	}
}

// simulate is a device: it sends a temperature every interval and prints
// the commands the gateway forwards to it.
func simulate(ctx context.Context, gatewayAddr string, interval time.Duration, out io.Writer) {
	conn, err := net.Dial("udp", gatewayAddr)
	if err != nil {
		fmt.Fprintln(out, "simulated device:", err)
		return
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			fmt.Fprintf(out, "simulated device got command: %s\n", buf[:n])
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			fmt.Fprintf(conn, "sim1 %.1f", 18+rand.Float64()*6)
		case <-ctx.Done():
			return
		}
	}
}
