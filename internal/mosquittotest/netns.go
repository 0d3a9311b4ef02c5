package mosquittotest

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// netnsEnv marks a test binary re-run inside a private network namespace.
const netnsEnv = "FEEDMQ_PRIVATE_NETNS"

// InPrivateNetwork reports whether this process runs in the network
// namespace RunInPrivateNetwork made, where loopback is the only interface.
func InPrivateNetwork() bool { return os.Getenv(netnsEnv) == "1" }

// RunInPrivateNetwork runs the calling test again inside a new network
// namespace whose only interface is loopback, and reports whether the
// caller is that inner run. Use it as
//
//	if !mosquittotest.RunInPrivateNetwork(t) {
//		return // the test ran, and passed or failed, in the namespace
//	}
//
// It exists for mosquitto 2.0.11's WebSocket listener, which ignores its
// bind address and listens on every interface (fixed in mosquitto 2.0.12):
// inside the namespace every interface is loopback, so no test listener is
// ever reachable from outside the machine. It needs unshare(1) and ip(8)
// and the right to create a namespace (root, as CI is).
func RunInPrivateNetwork(t *testing.T) bool {
	t.Helper()
	if InPrivateNetwork() {
		return true
	}
	unshare, ip := lookSbin("unshare"), lookSbin("ip")
	if unshare == "" || ip == "" {
		msg := "mosquittotest: a private network namespace needs unshare and ip (util-linux, iproute2)"
		if required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	args := []string{"--net", "sh", "-c", ip + ` link set lo up && exec "$0" "$@"`,
		os.Args[0], "-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.v", "-test.count=1"}
	cmd := exec.Command(unshare, args...)
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("in a private network namespace:\n%s", out.String())
	if err != nil {
		if !required() && bytes.Contains(out.Bytes(), []byte("unshare failed")) {
			t.Skip("mosquittotest: cannot create a network namespace here")
		}
		t.Fatalf("the test failed in its private network namespace: %v", err)
	}
	if bytes.Contains(out.Bytes(), []byte("--- SKIP")) && !bytes.Contains(out.Bytes(), []byte("--- PASS")) {
		t.Skip("skipped in its private network namespace")
	}
	return false
}

// lookSbin finds a system tool on PATH or in the sbin directories, which a
// non-login PATH may leave out.
func lookSbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}
