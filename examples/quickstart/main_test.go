package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	assert.Contains(t, out.String(), "received quickstart/temperature = 21.5 °C\n")
	assert.Contains(t, out.String(), "received quickstart/temperature = 22.5 °C\n")
	assert.Contains(t, out.String(), "done: 3 readings published and received\n")
}
