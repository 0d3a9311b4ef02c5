package brokers

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/feedmq/feedmq/internal/syncbuf"
)

// stopTimeout is how long stop waits after SIGTERM before SIGKILL.
const stopTimeout = 15 * time.Second

// process is one run of a broker's executable, in a process group of its
// own so that signals reach everything it started, killed by the kernel if
// the test binary dies without running its cleanups.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result; read it only after done
}

// startProcess starts cmd with its output appended to log.
func startProcess(cmd *exec.Cmd, log *logBuffer) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("brokers: start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends sig to the process group and waits; after stopTimeout it
// kills the group. stop on a nil process does nothing.
func (p *process) stop(sig syscall.Signal) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	signalGroup(p.cmd, sig)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		signalGroup(p.cmd, syscall.SIGKILL)
		<-p.done
	}
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = cmd.Process.Signal(sig)
	}
}

// logBuffer collects a broker's output; exec copies into it from its own
// goroutines while tests read it.
type logBuffer struct{ syncbuf.Buffer }

// notef adds a line of our own.
func (l *logBuffer) notef(format string, args ...any) {
	l.Printf("brokers: "+format+"\n", args...)
}

// maxDump is how much of a log a failed test prints.
const maxDump = 32 << 10
