//go:build !unix

package mosquittotest

import (
	"errors"
	"os"
	"os/exec"
)

func prepare(*exec.Cmd) {}

// terminate kills the process: there is no SIGTERM to send here, so a
// persistent broker loses what it had not saved yet.
func terminate(cmd *exec.Cmd) error { return kill(cmd) }

func kill(cmd *exec.Cmd) error {
	err := cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}
