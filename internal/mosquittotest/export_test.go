package mosquittotest

import "testing"

// TakePorts makes the next Start choose the given ports first, as if
// another process had taken them after they were chosen; later attempts
// choose free ports as usual. Tests that call it must not be parallel.
func TakePorts(tb testing.TB, mqtt, ws int) {
	first := true
	choosePorts = func(opts Options) (ports, error) {
		ps, err := freePorts(opts)
		if first {
			first = false
			if mqtt != 0 {
				ps.mqtt = mqtt
			}
			if ws != 0 && ps.ws != 0 {
				ps.ws = ws
			}
		}
		return ps, err
	}
	tb.Cleanup(func() { choosePorts = freePorts })
}
