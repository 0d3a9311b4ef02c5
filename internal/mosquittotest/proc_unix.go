//go:build unix

package mosquittotest

import (
	"errors"
	"os/exec"
	"syscall"
)

// prepare puts mosquitto in its own process group, so that the signals of
// terminate and kill reach everything it started and none of it receives the
// terminal's Ctrl-C meant for go test.
func prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// terminate asks mosquitto to shut down cleanly (it saves persistence).
func terminate(cmd *exec.Cmd) error {
	return signalGroup(cmd, syscall.SIGTERM)
}

// kill stops mosquitto at once, as a crash would.
func kill(cmd *exec.Cmd) error {
	return signalGroup(cmd, syscall.SIGKILL)
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}
