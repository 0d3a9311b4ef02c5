package sink

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// childEnv is set in the environment of the process Start runs.
const childEnv = "FEEDMQ_BENCH_SINK"

// RunIfChild returns at once, unless this process was started by Start: then
// it serves a sink broker on a free loopback port, writes the port's address
// to standard output, and exits when its standard input closes, which
// happens when the parent exits or calls Process.Close.
func RunIfChild() {
	if os.Getenv(childEnv) == "" {
		return
	}
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	logOutput = os.Stderr
	fmt.Println(s.Addr())
	io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Process is a sink broker running in a child process.
type Process struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

// startTimeout bounds the wait for the child's address.
const startTimeout = 10 * time.Second

// Start runs this program's own executable again as a sink broker. The
// program must call RunIfChild before doing anything else.
func Start() (*Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	setParentDeathSignal(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case p.addr = <-line:
	case <-t.C:
	}
	if p.addr == "" {
		p.Close()
		return nil, errors.New("sink: the child process did not report its address")
	}
	return p, nil
}

// Addr returns the host:port the sink listens on.
func (p *Process) Addr() string { return p.addr }

// Close stops the child and waits for it, killing it when it does not exit
// within a few seconds.
func (p *Process) Close() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		p.cmd.Process.Kill()
		return fmt.Errorf("sink: child did not exit; killed: %v", <-done)
	}
}
