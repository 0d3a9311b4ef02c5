package mosquittotest

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File names inside the broker's directory. The configuration refers to them
// by relative path, and mosquitto runs with the directory as its working
// directory, so a TMPDIR with spaces in it cannot break the parsing.
const (
	configFile   = "mosquitto.conf"
	passwordFile = "passwd"
	aclFile      = "acl"
	dataDir      = "data"
)

// ports are the loopback ports of one broker; zero means no such listener.
type ports struct {
	mqtt, tls, ws int
}

// writeAuthFiles writes the password and ACL files that opts asks for.
func writeAuthFiles(dir string, opts Options) error {
	if len(opts.Users) > 0 {
		names := make([]string, 0, len(opts.Users))
		for name := range opts.Users {
			// The file is "name:hash" lines, so these cannot be represented.
			if name == "" || strings.ContainsAny(name, ":\r\n") {
				return fmt.Errorf("invalid username %q", name)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		var sb strings.Builder
		for _, name := range names {
			hash, err := hashPassword(opts.Users[name])
			if err != nil {
				return err
			}
			fmt.Fprintf(&sb, "%s:%s\n", name, hash)
		}
		// 0600 because mosquitto warns about (and later versions refuse)
		// password files that others can read.
		if err := os.WriteFile(filepath.Join(dir, passwordFile), []byte(sb.String()), 0o600); err != nil {
			return err
		}
	}
	if opts.ACL != "" {
		if err := os.WriteFile(filepath.Join(dir, aclFile), []byte(opts.ACL+"\n"), 0o600); err != nil {
			return err
		}
	}
	if opts.Persistence {
		if err := os.MkdirAll(filepath.Join(dir, dataDir), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// hashPassword returns the "$7$" PBKDF2-SHA512 form that mosquitto_passwd
// 2.0 writes by default, so no mosquitto_passwd binary is needed.
func hashPassword(password string) (string, error) {
	const iterations = 101 // mosquitto_passwd's default
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha512.New, password, salt, iterations, sha512.Size)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$7$%d$%s$%s", iterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}

// config renders mosquitto.conf for opts on ps.
func config(opts Options, ps ports, root bool) string {
	var sb strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&sb, format+"\n", args...)
	}
	line("# Written by feedmq internal/mosquittotest.")
	// Authentication and ACLs apply to every listener alike.
	line("per_listener_settings false")
	if root {
		// As root, mosquitto 2 otherwise switches to the "mosquitto" user,
		// which cannot read the 0700 test directory.
		line("user root")
	}
	if len(opts.Users) > 0 {
		line("allow_anonymous false")
		line("password_file %s", passwordFile)
	} else {
		line("allow_anonymous true")
	}
	if opts.ACL != "" {
		line("acl_file %s", aclFile)
	}
	// The default of 1000 drops messages in tests that queue many for an
	// offline persistent session.
	if opts.Unbounded {
		line("max_inflight_messages 0")
		line("max_queued_messages 0")
		line("max_queued_bytes 0")
	} else {
		line("max_queued_messages 10000")
	}
	if opts.Persistence {
		line("persistence true")
		line("persistence_location %s/", dataDir)
	} else {
		line("persistence false")
	}
	line("log_dest stderr")
	if opts.QuietLog {
		line("log_type error")
		line("log_type warning")
		line("log_type notice")
	} else {
		line("log_type all")
	}
	line("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	line("connection_messages true")

	line("")
	line("listener %d 127.0.0.1", ps.mqtt)
	line("protocol mqtt")
	if ps.tls != 0 {
		line("")
		line("listener %d 127.0.0.1", ps.tls)
		line("protocol mqtt")
		line("cafile %s", caFile)
		line("certfile %s", serverCertFile)
		line("keyfile %s", serverKeyFile)
		line("require_certificate %t", opts.RequireClientCert)
	}
	if ps.ws != 0 {
		line("")
		// mosquitto 2.0.11 ignores the address here and binds all
		// interfaces (fixed in 2.0.12).
		line("listener %d 127.0.0.1", ps.ws)
		line("protocol websockets")
	}
	if opts.Extra != "" {
		line("")
		line("# Options.Extra")
		line("%s", opts.Extra)
	}
	return sb.String()
}
