package filter

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
)

const dohType = "application/dns-message"

var dohBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

// DoHHandler serves DNS over HTTPS (RFC 8484) with GET and POST at /dns-query,
// /dns-query/{profile} and /dns-query/{profile}/{device}. Mount it on those three patterns.
// Over plain HTTP it serves a reverse proxy that terminates TLS.
func (s *Server) DoHHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci := clientInfo{transport: transHTTPS, hint: r.PathValue("profile"), device: r.PathValue("device")}
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			ci.addr = ap.Addr()
		}
		if !s.allowed(ci.addr) {
			s.count(&ci, resRefused)
			http.Error(w, "this resolver is not open to your network", http.StatusForbidden)
			return
		}
		if s.limiter != nil && !s.limiter.allow(ci.addr, s.o.Clock()) {
			s.count(&ci, resRateLimited)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many queries", http.StatusTooManyRequests)
			return
		}
		var msg []byte
		switch r.Method {
		case http.MethodGet:
			v := r.URL.Query().Get("dns")
			if v == "" {
				http.Error(w, "missing dns parameter (RFC 8484: base64url of a DNS query)", http.StatusBadRequest)
				return
			}
			if len(v) > 8192 {
				http.Error(w, "dns parameter too long", http.StatusRequestURITooLong)
				return
			}
			b, err := base64.RawURLEncoding.DecodeString(v)
			if err != nil {
				http.Error(w, "dns parameter is not base64url without padding", http.StatusBadRequest)
				return
			}
			msg = b
		case http.MethodPost:
			if ct := r.Header.Get("Content-Type"); ct != dohType {
				http.Error(w, "Content-Type must be "+dohType, http.StatusUnsupportedMediaType)
				return
			}
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 65535))
			if err != nil {
				http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
				return
			}
			msg = b
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
			return
		}
		if len(msg) < headerLen {
			http.Error(w, "not a DNS message", http.StatusBadRequest)
			return
		}
		bp := dohBufs.Get().(*[]byte)
		defer dohBufs.Put(bp)
		var q query
		out, _ := s.answer(r.Context(), (*bp)[:0], msg, &ci, &q, 65535, true)
		*bp = out[:0]
		if len(out) < headerLen {
			http.Error(w, "not a DNS query", http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", dohType)
		h.Set("Content-Length", strconv.Itoa(len(out)))
		// RFC 8484 5.1: freshness no longer than the smallest TTL; we keep it simple and safe
		// for a filter whose answers change with the schedule: no HTTP caching.
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(out)
	})
}
