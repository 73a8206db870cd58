// Package e2e holds kidshield's end-to-end tests: they build the real binary once, start it as a
// subprocess with configurations written into temporary directories, and talk to it over
// loopback with real clients (dig, kdig, Go's HTTP client, raw sockets). A DNS server inside the
// test process plays the upstream resolver, so nothing leaves the machine.
//
// Run: go test -race -count=1 ./e2e/   (dig and kdig are needed; with CI=true their absence
// fails the run instead of skipping it).
package e2e
