package sink

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the sink when its parent dies
// without closing it (a benchmark's -timeout panic, for example).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
