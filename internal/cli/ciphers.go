package cli

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// openSSLCipherNames maps the OpenSSL names of the TLS 1.2 cipher suites
// crypto/tls implements to their IANA names, which crypto/tls uses.
var openSSLCipherNames = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-ECDSA-RC4-SHA":           "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":             "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"RC4-SHA":                       "TLS_RSA_WITH_RC4_128_SHA",
}

// CipherSuites turns the value of --ciphers into crypto/tls cipher suite
// IDs. mosquitto hands the value to OpenSSL's SSL_CTX_set_cipher_list, whose
// list names suites by OpenSSL name and also knows keywords such as HIGH and
// operators such as !aNULL; crypto/tls has a fixed set of suites and no such
// language, so only names are accepted (OpenSSL's or IANA's), separated by
// ':', ',' or spaces, and anything else is an error naming it. Like OpenSSL's
// cipher list, the setting applies to TLS 1.2: crypto/tls does not let TLS
// 1.3 suites be chosen.
func CipherSuites(list string) ([]uint16, error) {
	byName := map[string]uint16{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			byName[s.Name] = s.ID
		}
	}
	var ids []uint16
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		iana := name
		if n, ok := openSSLCipherNames[strings.ToUpper(name)]; ok {
			iana = n
		}
		id, ok := byName[strings.ToUpper(iana)]
		switch {
		case ok:
			ids = append(ids, id)
		case strings.HasPrefix(strings.ToUpper(name), "TLS_AES_") || strings.HasPrefix(strings.ToUpper(name), "TLS_CHACHA20_"):
			return nil, fmt.Errorf("--ciphers: %s is a TLS 1.3 cipher suite, which crypto/tls does not let be chosen", name)
		default:
			return nil, fmt.Errorf("--ciphers: unknown or unsupported cipher %q (OpenSSL keywords and operators such as HIGH or !aNULL are not supported; list cipher names)", name)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("--ciphers: no cipher given")
	}
	return ids, nil
}
