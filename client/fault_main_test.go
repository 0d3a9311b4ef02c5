package client_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// client must have joined its goroutines when Close or Disconnect returned
// (STYLE §6, "every goroutine has an owner, a context and a join").
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
