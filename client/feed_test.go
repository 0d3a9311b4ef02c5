package client_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/feedmq/feedmq/client"
	"github.com/feedmq/feedmq/internal/mosquittotest"
	"github.com/feedmq/feedmq/packets"
)

// TestFeedsTypedCallbacks publishes on typed feeds and receives the values
// through typed callbacks, the way the Adafruit MQTT library's sketches do,
// at 3.1.1 and at 5.0, where a feed's property options reach every
// publish.
func TestFeedsTypedCallbacks(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	itEachProtocol(t, func(t *testing.T, proto packets.ProtocolLevel) { testFeedsTypedCallbacks(t, b, proto) })
}

func testFeedsTypedCallbacks(t *testing.T, b *mosquittotest.Broker, proto packets.ProtocolLevel) {
	ctx := testCtx(t)
	c := newClient(t, client.Config{Brokers: []string{b.URL()}, Protocol: proto})

	intOpts := []client.PublishOption{client.WithQoS(client.AtLeastOnce)}
	if proto == client.MQTT5 {
		intOpts = append(intOpts, client.WithContentType("text/plain"), client.WithUserProperty("unit", "s"))
	} else {
		_, err := client.NewFeed(c, "dev/feeds/v5only", client.IntCodec{}, client.WithUserProperty("unit", "s"))
		require.ErrorIs(t, err, client.ErrNeedsMQTT5, "a 5.0 option on a 3.1.1 feed is refused, not dropped")
	}
	ints, err := client.NewFeed(c, "dev/feeds/seconds", client.IntCodec{}, intOpts...)
	require.NoError(t, err)
	floats, err := client.NewFeed(c, "dev/feeds/slider", client.FloatCodec{}, client.WithQoS(client.ExactlyOnce))
	require.NoError(t, err)
	strs, err := client.NewFeed(c, "dev/feeds/onoff", client.StringCodec{})
	require.NoError(t, err)
	raw, err := client.NewFeed(c, "dev/feeds/raw", client.BytesCodec{}, client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)

	gotInt := make(chan int64, 10)
	gotFloat := make(chan float64, 10)
	gotStr := make(chan string, 10)
	gotRaw := make(chan []byte, 10)
	intProps := make(chan *client.MessageProperties, 10)
	ints.OnMessage(func(v int64, m *client.Message) { gotInt <- v; intProps <- m.Properties })
	floats.OnMessage(func(v float64, m *client.Message) { gotFloat <- v })
	strs.OnMessage(func(v string, m *client.Message) { gotStr <- v })
	raw.OnMessage(func(v []byte, m *client.Message) { gotRaw <- v })
	for _, f := range []interface {
		Subscribed(context.Context) (client.QoS, error)
	}{ints, floats, strs, raw} {
		_, err := f.Subscribed(ctx)
		require.NoError(t, err)
	}
	granted, err := floats.Subscribed(ctx)
	require.NoError(t, err)
	assert.Equal(t, client.ExactlyOnce, granted)

	require.NoError(t, ints.Publish(ctx, -42))
	require.NoError(t, floats.Publish(ctx, 3.25))
	require.NoError(t, strs.Publish(ctx, "ON"))
	require.NoError(t, raw.Publish(ctx, []byte{0, 1, 2, 0xff}))
	assert.Equal(t, int64(-42), recv(t, ctx, gotInt))
	if props := recv(t, ctx, intProps); proto == client.MQTT5 && assert.NotNil(t, props) {
		assert.Equal(t, "text/plain", props.ContentType)
		assert.Equal(t, []client.UserProperty{{Key: "unit", Value: "s"}}, props.UserProperties)
	} else if proto != client.MQTT5 {
		assert.Nil(t, props)
	}
	assert.Equal(t, 3.25, recv(t, ctx, gotFloat))
	assert.Equal(t, "ON", recv(t, ctx, gotStr))
	assert.Equal(t, []byte{0, 1, 2, 0xff}, recv(t, ctx, gotRaw))
}

// TestFeedBadInputIsReported shows that a payload the codec rejects is
// reported, not turned into 0, and that the feed goes on with the next one.
func TestFeedBadInputIsReported(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	c := newClient(t, client.Config{Brokers: []string{b.URL()}})
	pub := newClient(t, client.Config{Brokers: []string{b.URL()}})

	f, err := client.NewFeed(c, "dev/feeds/temp", client.FloatCodec{}, client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	bad := make(chan *client.DecodeError, 10)
	good := make(chan float64, 10)
	f.OnDecodeError(func(e *client.DecodeError) { bad <- e })
	f.OnMessage(func(v float64, m *client.Message) { good <- v })
	_, err = f.Subscribed(ctx)
	require.NoError(t, err)

	for _, p := range []string{"twenty", "", " 21.5\n"} {
		require.NoError(t, pub.Publish(ctx, "dev/feeds/temp", []byte(p), client.WithQoS(client.AtLeastOnce)))
	}
	e1, e2 := recv(t, ctx, bad), recv(t, ctx, bad)
	assert.Equal(t, []byte("twenty"), e1.Payload)
	assert.Empty(t, e2.Payload)
	var numErr *strconv.NumError
	assert.True(t, errors.As(e1, &numErr), "the codec's error is wrapped: %v", e1)
	assert.Equal(t, 21.5, recv(t, ctx, good))
	select {
	case v := <-good:
		t.Fatalf("a bad payload reached the callback as %v", v)
	default:
	}
}

// TestFeedPullAndSharedTopic reads feeds with Next (Adafruit's
// readSubscription) and shows that two feeds on one topic each get every
// message, and that NextMessage reads any pull-mode feed.
func TestFeedPullAndSharedTopic(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Options{})
	ctx := testCtx(t)
	c := newClient(t, client.Config{Brokers: []string{b.URL()}})

	a, err := client.NewFeed(c, "dev/feeds/count", client.IntCodec{}, client.WithQoS(client.AtLeastOnce))
	require.NoError(t, err)
	both, err := client.NewFeed(c, "dev/feeds/count", client.StringCodec{}, client.WithQoS(client.AtMostOnce))
	require.NoError(t, err)
	_, err = a.Subscribed(ctx)
	require.NoError(t, err)
	_, err = both.Subscribed(ctx)
	require.NoError(t, err)

	for i := range 3 {
		require.NoError(t, a.Publish(ctx, int64(i)))
	}
	for i := range 3 {
		v, m, err := a.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(i), v)
		assert.Equal(t, "dev/feeds/count", m.Topic)
		s, _, err := both.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(i), s)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, _, err = a.Next(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, a.Publish(ctx, 7))
	m, err := c.NextMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "7", string(m.Payload))
}

func recv[T any](t *testing.T, ctx context.Context, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatal("timed out waiting for a value")
		panic("unreachable")
	}
}
