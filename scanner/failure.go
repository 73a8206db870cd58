package scanner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
)

// Failure kinds: why a scan could not be done, in words stable enough to be stored
// (scan_results.error_kind) and translated on the case page (scan.fail.<kind>). The raw error
// is kept beside the kind for the record; the kind is what tells an analyst what to do.
const (
	FailPrivate    = "private"    // a private, loopback, link-local or otherwise reserved address: never fetched
	FailPort       = "port"       // a port the scanner does not fetch (scanner.ports)
	FailDisallowed = "disallowed" // robots.txt forbids it (monitored sources only)
	FailTimeout    = "timeout"    // the site did not answer within the time cap
	FailRedirects  = "redirects"  // more redirects than the client follows
	FailTooLarge   = "too_large"  // an image over the pixel or byte cap
	FailNotImage   = "not_image"  // an image URL that is not an image
	FailDNS        = "dns"        // the host name does not exist
	FailTLS        = "tls"        // the site's certificate could not be verified
	FailBadURL     = "bad_url"    // the URL cannot be fetched (scheme, credentials, syntax)
	FailOther      = "other"      // anything else: the raw error says what
)

// FailureKinds lists every kind FailureKind returns, for the pages' translation tests.
var FailureKinds = []string{FailPrivate, FailPort, FailDisallowed, FailTimeout, FailRedirects, FailTooLarge, FailNotImage,
	FailDNS, FailTLS, FailBadURL, FailOther}

// FailureKind says why err stopped a scan, as one of the Fail* kinds. It reads the errors of
// scanner/fetch (and of the context and the network beneath them) with errors.Is and As, never
// their text.
func FailureKind(err error) string {
	if err == nil {
		return ""
	}
	switch {
	case errors.Is(err, fetch.ErrPortNotAllowed):
		// Before ErrBadURL: a port outside scanner.ports is something an administrator can
		// change, unlike a scheme or credentials in the URL.
		return FailPort
	case errors.Is(err, fetch.ErrBadURL):
		return FailBadURL
	case errors.Is(err, fetch.ErrBlocked):
		return FailPrivate
	case errors.Is(err, fetch.ErrDisallowed):
		return FailDisallowed
	case errors.Is(err, fetch.ErrTooManyRedirects):
		return FailRedirects
	case errors.Is(err, fetch.ErrTooManyPixels), errors.Is(err, pdq.ErrTooLarge):
		return FailTooLarge
	case errors.Is(err, fetch.ErrNotImage), errors.Is(err, pdq.ErrUnknownFormat):
		return FailNotImage
	case errors.Is(err, fetch.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return FailTimeout
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return FailDNS
	}
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	if errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ce) {
		return FailTLS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return FailTimeout
	}
	return FailOther
}

// kindedError hands FailureKind's word for an error to the store with it
// (store.ScanFailureKinded), so that a job being retried can say why on the case page.
type kindedError struct{ error }

func (e kindedError) Unwrap() error           { return e.error }
func (e kindedError) ScanFailureKind() string { return FailureKind(e.error) }
