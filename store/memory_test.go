package store_test

import (
	"testing"

	"github.com/feedmq/feedmq/store"
	"github.com/feedmq/feedmq/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() }, nil)
}
