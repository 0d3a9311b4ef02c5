//go:build !linux

package sink

import "os/exec"

// setParentDeathSignal does nothing here: the sink exits when its standard
// input closes, which the parent's death also causes.
func setParentDeathSignal(*exec.Cmd) {}
