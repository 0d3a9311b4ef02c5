//go:build !unix

package client

import (
	"errors"
	"net"
)

// sockWriter is not made off unix: every write goes through the writer
// goroutine.
type sockWriter struct{}

func plainSocket(net.Conn) bool { return false }

func newSockWriter(net.Conn) *sockWriter { return nil }

func (*sockWriter) writeNow([]byte) (int, error) { return 0, errors.ErrUnsupported }
