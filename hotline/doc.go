// Package hotline is the hotline's domain: report intake from every channel, dedup of URLs
// against open cases, the case, notice and list lifecycles (package lifecycle) with their
// clocks, and the statistics the ministry publishes. The web pages (package hotline/ui) and the
// JSON API are thin layers over Service; the store keeps the records and checks every
// transition inside the transaction that makes it.
package hotline
