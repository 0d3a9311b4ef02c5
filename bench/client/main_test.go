package client

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/feedmq/feedmq/bench/internal/sink"
	"github.com/feedmq/feedmq/internal/mosquittotest"
)

// The benchmark process's mosquitto: started by the first benchmark that
// needs it, stopped by TestMain, so that go test without -bench starts none.
var shared struct {
	once   sync.Once
	broker *mosquittotest.Broker // nil when Start failed or skipped
}

// procTB owns the shared broker: its cleanups run when TestMain ends.
var procTB = &processTB{}

// sharedBroker returns the process's mosquitto, starting it on first use.
// When it could not start, every benchmark fails, or skips when mosquitto
// is not installed (mosquittotest decides which).
func sharedBroker(b *testing.B) *mosquittotest.Broker {
	b.Helper()
	shared.once.Do(func() {
		done := make(chan struct{})
		// Its own goroutine, because Fatal and Skip end it with Goexit.
		go func() {
			defer close(done)
			shared.broker = mosquittotest.Start(procTB, brokerOptions)
		}()
		<-done
	})
	if shared.broker == nil {
		msg, skipped := procTB.outcome()
		if skipped {
			b.Skip(msg)
		}
		b.Fatalf("start mosquitto: %s", msg)
	}
	return shared.broker
}

// The benchmark process's sink broker (see package sink): a child process
// started by the first benchmark that needs it and stopped by TestMain.
var sharedSinkProc struct {
	once sync.Once
	p    *sink.Process
	err  error
}

// sharedSink returns the sink's address, starting it on first use.
func sharedSink(b *testing.B) string {
	b.Helper()
	sharedSinkProc.once.Do(func() {
		sharedSinkProc.p, sharedSinkProc.err = sink.Start()
		if sharedSinkProc.err == nil {
			procTB.Cleanup(func() {
				if err := sharedSinkProc.p.Close(); err != nil {
					procTB.Errorf("sink: %v", err)
				}
			})
		}
	})
	if sharedSinkProc.err != nil {
		b.Fatalf("start the sink broker: %v", sharedSinkProc.err)
	}
	return sharedSinkProc.p.Addr()
}

func TestMain(m *testing.M) {
	sink.RunIfChild() // when this binary was started as the sink broker
	code := m.Run()
	if code != 0 {
		procTB.Fail() // so that the broker's log is printed as it stops
	}
	procTB.runCleanups()
	os.Exit(code)
}

// processTB is the testing.TB of the broker shared by the whole process,
// which outlives every benchmark. It implements what mosquittotest.Start
// uses; the other methods of the embedded nil testing.TB panic.
type processTB struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	skipped  bool
	msg      string // of the Fatal or Skip that ended Start
}

func (*processTB) Helper()        {}
func (*processTB) Name() string   { return "feedmq-bench-client" }
func (p *processTB) Fail()        { p.mu.Lock(); p.failed = true; p.mu.Unlock() }
func (p *processTB) Failed() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.failed }

func (p *processTB) Log(args ...any) { fmt.Fprintln(os.Stderr, args...) }
func (p *processTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (p *processTB) Error(args ...any)                 { p.Log(args...); p.Fail() }
func (p *processTB) Errorf(format string, args ...any) { p.Logf(format, args...); p.Fail() }

func (p *processTB) Fatal(args ...any) { p.end(false, fmt.Sprint(args...)) }
func (p *processTB) Fatalf(format string, args ...any) {
	p.end(false, fmt.Sprintf(format, args...))
}
func (p *processTB) FailNow() { p.end(false, "FailNow") }

func (p *processTB) Skip(args ...any)                 { p.end(true, fmt.Sprint(args...)) }
func (p *processTB) Skipf(format string, args ...any) { p.end(true, fmt.Sprintf(format, args...)) }
func (p *processTB) SkipNow()                         { p.end(true, "SkipNow") }

// end records why Start gave up and ends its goroutine.
func (p *processTB) end(skip bool, msg string) {
	p.mu.Lock()
	p.msg = msg
	p.skipped = skip
	p.failed = p.failed || !skip
	p.mu.Unlock()
	runtime.Goexit()
}

func (p *processTB) outcome() (msg string, skipped bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msg, p.skipped
}

func (p *processTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

// TempDir returns a new directory, removed by the cleanups.
func (p *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "feedmq-bench-client-")
	if err != nil {
		p.Fatalf("TempDir: %v", err)
	}
	p.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			p.Errorf("TempDir: %v", err)
		}
	})
	return dir
}

// runCleanups runs the cleanups, last registered first, as testing does.
func (p *processTB) runCleanups() {
	p.mu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}
