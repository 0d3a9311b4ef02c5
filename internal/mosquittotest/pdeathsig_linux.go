package mosquittotest

import "syscall"

// setParentDeathSignal makes the kernel kill mosquitto when the test binary
// dies without running its cleanups (a -timeout panic or os.Exit), so no
// broker outlives go test.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
