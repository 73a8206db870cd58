// Package lists parses domain block lists and compiles them into the matcher that the DNS hot
// path consults for every query. It imports nothing from the rest of kidshield.
//
// # Syntaxes
//
// Every syntax yields [Rule] values: a name and a [Kind]. Lines are at most 4096 bytes; a longer
// line is a bad line and parsing resumes at the next newline. LF and CRLF endings and a UTF-8
// byte order mark at the start of the file are accepted. Bad lines are counted and the first 20
// are described in [Stats]; they never stop a parse.
//
// domains (FormatDomains): one name per line.
//
//	example.com          the name and all its subdomains (Subtree)
//	*.example.com        its subdomains only (SubdomainsOnly)
//	=example.com         the name only (Exact): kidshield's own exact-only syntax
//	example.com  # why   a comment after white space
//	# comment, ! comment
//
// hosts (FormatHosts): an IP address (any IPv4 or IPv6 address) followed by one or more names,
// each a Subtree rule; "#" starts a comment. The names a hosts file gives the machine itself
// (localhost, localhost.localdomain, broadcasthost, local, ip6-*, and 0.0.0.0 as a name) are
// ignored. A line whose first field is not an address is bad.
//
// adblock (FormatAdblock): the DNS subset of Adblock Plus / AdGuard syntax.
//
//	||example.com^           Subtree ("^", a trailing "|" and "$important" are optional)
//	||*.example.com^         SubdomainsOnly
//	|example.com^            Exact
//	@@||example.com^         an exception (Rule.Allow) with the same matching rules
//	example.com              plain names and hosts lines, as AdGuard Home accepts them
//	! comment, # comment, [Adblock Plus 2.0]
//
// Valid adblock rules that say nothing a resolver can apply are skipped, not bad: rules with
// other modifiers ($third-party, $script, $domain=, $dnstype=, ...), cosmetic and HTML rules
// (##, #@#, #?#, #$#, #%#, $$), URL paths and ports (||example.com/ads, ||example.com:8080),
// wildcards inside a name, regular expressions and unanchored URL patterns.
//
// auto (FormatAuto) decides per line: hosts if the first field is an IP address, adblock if the
// line starts with "||", "|" or "@@", a comment, header or cosmetic rule as in adblock, and
// domains otherwise. It is the right default for lists of unknown origin.
//
// Names are normalized by [NormalizeName]: ASCII is lowercased, Unicode names are converted to
// punycode with the IDNA lookup profile, a trailing dot is removed. A valid name has labels of
// 1 to 63 bytes of letters, digits, "-" and "_" (real lists name _dmarc and similar records),
// at most 253 bytes in all, and a top-level label that is not numeric, so that IP addresses are
// rejected. A single label ("zip") is a valid name: lists block whole top-level domains. NUL
// bytes, control characters and invalid UTF-8 make a line bad with a reason that says so.
//
// # Matching
//
// A query name matches a Subtree rule for example.com if it is example.com or ends in
// ".example.com" (so badexample.com does not match), an Exact rule only if it is example.com, a
// SubdomainsOnly rule only if it ends in ".example.com". Letters match case-insensitively and a
// trailing dot on the query is ignored. An exception (Allow) rule matches the same way and sets
// the allow result; when a list both blocks and allows a name, both are reported and the caller
// decides (within a category, allow wins).
//
// # Structure
//
// A [List] is immutable once built. It stores every distinct name once, lowercase, in a single
// byte slice, and indexes them with an open-addressing table of uint64 slots (offset, length,
// flags and 20 hash bits packed together) at a load factor of at most 3/4; lists of 512 names or
// more add a blocked Bloom filter of about 10 bits per name. For names of about 20 bytes that is
// about 31 bytes per name in all, against about 80 for a Go map[string]struct{}, and no pointers
// for the garbage collector to scan. Duplicates are merged when the list is built, keeping the
// union of their rules.
//
// The hash of a name is computed label by label from the right, so walking a query from its
// top-level label towards its first yields the hash of every parent suffix at the cost of
// hashing the name once; all lists share the process's random seed, so a [Set] hashes each
// suffix once for all its lists. A probe compares the length and hash bits of a slot in one
// word and reads the stored name only when they agree; the Bloom filter, small enough to stay
// in cache, spares most of the suffixes that are in no list (most of them) a trip to memory.
// Lookups do not allocate.
//
// A [Set] groups lists, each tagged with a category, and holds them by reference: when one list
// is reloaded, the new Set reuses the other compiled lists as they are. [Compile] parses
// straight into a buffer of records and builds the table in one pass over it, without an
// allocation per rule, so that a million-name list is ready in a fraction of a second.
package lists
