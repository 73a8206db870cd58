// Package fetch is the scanner's only way onto the web: one guarded HTTP client for every
// URL a reporter submits or a monitored source lists, the evidence record of each fetch
// (Capture), robots.txt for monitoring, and the extraction of a page's title, text, links
// and images.
//
// The addresses it is handed are chosen by strangers, so the client is built around what it
// will never do:
//
//   - follow a scheme other than http and https, on the first request or on any redirect,
//     or more than five redirects;
//   - send cookies (there is no jar), credentials (URLs with userinfo are refused), or use
//     a proxy from the environment;
//   - connect to a private, loopback, link-local, multicast, documentation or otherwise
//     reserved address (the list of SCANNER.md, IPv4 and IPv6, including IPv4-mapped and
//     NAT64 addresses), or to a port other than 80 and 443 unless configured. The check is
//     made on the address being connected, inside the dialer, for every connection of
//     every hop, so a name whose DNS answer changes after any earlier look-up still cannot
//     reach a refused address: there is no earlier look-up whose answer is trusted;
//   - read more than its byte caps (10 MiB for pages, 20 MiB for images by default), take
//     longer than its time caps, accept an image over 40 megapixels, or trust a declared
//     Content-Type (bodies are sniffed);
//   - skip TLS verification, or hide what it is: the User-Agent names the scanner and the
//     operator's page, and monitoring honours robots.txt (a single reported URL is fetched
//     for review regardless, which is not crawling);
//   - exceed its per-host limits, shared by all its fetches: two requests in flight and
//     one second between starts by default;
//   - log a body or a URL's path and query (which may carry personal data): logs name the
//     host and the status only.
//
// Redirects are followed by Fetch itself, hop by hop, straight on the transport: each hop
// is validated, checked against robots.txt when monitoring, limited per host, and
// recorded in the Capture, the evidence of what was fetched from where (every hop's URL,
// status and connected address, the kept headers, the time, the SHA-256 of the bytes).
//
// The allowance that lets tests reach loopback servers is an unexported argument that only
// the package's own tests pass; New has no way to relax the guard. The one exported exception,
// NewAllowingLoopbackForTests, opens loopback (127.0.0.0/8 and ::1) and nothing else, for
// end-to-end tests of the real binary; it is dangerous in production and reached only through
// a configuration key that says so.
package fetch
