package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// TLSFiles holds the file-based TLS settings of mosquitto_pub and
// mosquitto_sub. [TLSFiles.Config] turns them into the *tls.Config of
// the client's Config.Transport. Its errors are worded for the tools' "Problem
// setting TLS options" message, so they carry no package prefix, like those
// of [CipherSuites].
type TLSFiles struct {
	// CAFile is a PEM file of CA certificates to trust (--cafile).
	CAFile string
	// CAPath is a directory of PEM CA certificate files to trust (--capath).
	// Every regular file in it is read; files without a certificate, such
	// as CRLs beside c_rehash links, are skipped.
	CAPath string
	// CertFile and KeyFile are the PEM client certificate and its private
	// key (--cert, --key). Both or neither must be set.
	CertFile, KeyFile string
	// ServerName is the name expected in the server certificate. Empty
	// means the host of the broker URL.
	ServerName string
	// Insecure skips the check that the server certificate matches the
	// host name (--insecure). As in mosquitto, the certificate chain is
	// still verified against the trusted CAs.
	Insecure bool
	// MinVersion is the lowest TLS version to accept (--tls-version), spelt
	// as mosquitto does: "tlsv1.2" or "tlsv1.3". Empty means TLS 1.2.
	MinVersion string
	// ALPN lists the protocols to offer by ALPN (--tls-alpn), for brokers
	// that serve MQTT on port 443.
	ALPN []string
	// UseSystemRoots also trusts the operating system's CAs when CAFile or
	// CAPath is set (--tls-use-os-certs). Without either, the system CAs
	// are used anyway.
	UseSystemRoots bool
}

// Config loads the files and returns the TLS configuration. Errors name the
// file or setting and say what was wrong with it.
func (f TLSFiles) Config() (*tls.Config, error) {
	minVersion, err := parseTLSVersion(f.MinVersion)
	if err != nil {
		return nil, err
	}
	roots, err := f.rootCAs()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		RootCAs:    roots,
		ServerName: f.ServerName,
		MinVersion: minVersion,
		NextProtos: slices.Clone(f.ALPN),
	}
	if f.CertFile != "" || f.KeyFile != "" {
		cert, err := f.clientCertificate()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if f.Insecure {
		// crypto/tls can only drop the host name check together with the
		// chain check, so put the chain check back.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChainOnly(roots)
	}
	return cfg, nil
}

// parseTLSVersion maps mosquitto's --tls-version spelling to a crypto/tls
// version. Versions before 1.2 are refused: they are deprecated (RFC 8996).
func parseTLSVersion(s string) (uint16, error) {
	switch strings.ToLower(s) {
	case "":
		return 0, nil
	case "tlsv1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.3":
		return tls.VersionTLS13, nil
	case "tlsv1", "tlsv1.0", "tlsv1.1":
		return 0, fmt.Errorf("TLS version %q is no longer supported; use tlsv1.2 or tlsv1.3", s)
	}
	return 0, fmt.Errorf("unknown TLS version %q; use tlsv1.2 or tlsv1.3", s)
}

// rootCAs returns the trusted CAs, or nil for the system's.
func (f TLSFiles) rootCAs() (*x509.CertPool, error) {
	if f.CAFile == "" && f.CAPath == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if f.UseSystemRoots {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("loading the system CA certificates: %w", err)
		}
		pool = sys
	}
	if f.CAFile != "" {
		certs, err := readPEMCertificates(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("CA file %s: no PEM certificate found", f.CAFile)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	if f.CAPath != "" {
		if err := addCAPath(pool, f.CAPath); err != nil {
			return nil, err
		}
	}
	return pool, nil
}

// addCAPath adds the certificates of every regular file in dir to pool.
func addCAPath(pool *x509.CertPool, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("CA path: %w", err)
	}
	found := 0
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		// Stat follows the symlinks c_rehash makes.
		if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		certs, err := readPEMCertificates(name)
		if err != nil {
			return fmt.Errorf("CA path: %w", err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		found += len(certs)
	}
	if found == 0 {
		return fmt.Errorf("CA path %s: no PEM certificate found in any file", dir)
	}
	return nil
}

// readPEMCertificates parses every CERTIFICATE block of a PEM file. Unlike
// x509.CertPool.AppendCertsFromPEM it reports a damaged block instead of
// skipping it.
func readPEMCertificates(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d: %w", name, n, err)
		}
		certs = append(certs, c)
	}
}

// clientCertificate loads CertFile and KeyFile.
func (f TLSFiles) clientCertificate() (tls.Certificate, error) {
	switch {
	case f.CertFile == "":
		return tls.Certificate{}, fmt.Errorf("key file %s given without a certificate file", f.KeyFile)
	case f.KeyFile == "":
		return tls.Certificate{}, fmt.Errorf("certificate file %s given without a key file", f.CertFile)
	}
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate file %s with key file %s: %w", f.CertFile, f.KeyFile, err)
	}
	return cert, nil
}

// verifyChainOnly verifies the server's chain against roots (nil: the
// system's) without matching a host name, for TLSFiles.Insecure.
func verifyChainOnly(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("verifying the server certificate (host name not checked): %w", err)
		}
		return nil
	}
}
