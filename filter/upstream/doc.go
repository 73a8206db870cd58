// Package upstream forwards the filter's cache misses to upstream recursive
// resolvers over plain DNS (UDP with TCP fallback, TCP), DNS over TLS
// (RFC 7858) and DNS over HTTPS (RFC 8484), and spreads them over a Pool
// with health tracking and failover.
//
// # Why it is shaped this way
//
// Every transport implements one small interface, Upstream, built from a
// one-line spec by Parse, so configuration, logs and metrics name an
// upstream the same way ("tls://9.9.9.9:853#dns.quad9.net"). The pool is
// itself an Upstream, so the filter holds one value whatever the setup.
//
// Upstream answers are outside input. Each transport checks what it reads:
//   - UDP uses a fresh connected socket (random source port) per query and
//     ignores any datagram whose ID or question does not match the query,
//     reading on until the attempt's timeout (spoofing resistance). An answer
//     with TC=1, or one larger than the EDNS buffer size we advertised, is
//     retried over TCP.
//   - TCP and DoT keep a small pool of idle connections (RFC 7766 reuse,
//     without pipelining: one query in flight per connection). Servers close
//     idle connections whenever they like, so a failure on a reused
//     connection is retried once on a new one.
//   - DoH uses one http.Client per upstream with HTTP/2 (golang.org/x/net's
//     transport with keep-alive pings) and keep-alive; it POSTs
//     application/dns-message with ID 0 (RFC 8484 section 4.1), checks the
//     status and Content-Type and reads at most 64 KiB.
//   - Every read is size-limited, every attempt bounded by Options.Timeout
//     and by the caller's context.
//
// EDNS(0) is hop-by-hop (RFC 6891), so the client's OPT record is not
// forwarded: each query carries our own OPT with Options.UDPSize (1232, DNS
// flag day 2020) and the client's DO bit; DoT and DoH queries are padded to a
// multiple of 128 bytes (RFC 8467). The response is returned as the upstream
// sent it, with the caller's message ID.
//
// # Pool policy
//
// The pool tries upstreams in the configured order, skipping those marked
// down, and fails over to the next on an error, a timeout, SERVFAIL or
// REFUSED. Ordered rather than fastest-first because operators list their
// preferred resolver first (the ISP's, or one with a known filtering or
// privacy policy) and a child filter should give consistent answers;
// Status exposes each upstream's average RTT for monitoring. An upstream
// that fails FailThreshold times in a row is marked down; after Backoff one
// live query probes it again at its place in the order (and marks it up on
// success, or restarts the backoff). When every upstream is down the pool
// still tries them all in order rather than failing without trying.
//
// Upstream host names other than IP literals are resolved with the system
// resolver when dialing; on a host whose system resolver is this filter,
// configure upstreams by address (for DoT use "tls://IP:853#name").
package upstream
