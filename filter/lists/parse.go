package lists

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxLine is the longest line accepted, without its line terminator. Longer lines are bad lines.
const maxLine = 4096

// Flags of a stored name: which matches it produces. Subtree is self|subs.
const (
	flagBlockSelf uint8 = 1 << iota // block the name itself
	flagBlockSubs                   // block its subdomains
	flagAllowSelf                   // exception for the name itself
	flagAllowSubs                   // exception for its subdomains

	flagsSelf = flagBlockSelf | flagAllowSelf
	flagsSubs = flagBlockSubs | flagAllowSubs
)

func kindFlags(k Kind, allow bool) uint8 {
	var f uint8
	switch k {
	case Exact:
		f = flagBlockSelf
	case SubdomainsOnly:
		f = flagBlockSubs
	default:
		f = flagBlockSelf | flagBlockSubs
	}
	if allow {
		f <<= 2
	}
	return f
}

// flagsRules turns stored flags back into rules (at most one block and one allow rule).
func flagsRules(name string, f uint8, yield func(Rule) bool) bool {
	for _, allow := range []bool{false, true} {
		g := f & 3
		if allow {
			g = f >> 2 & 3
		}
		var k Kind
		switch g {
		case 0:
			continue
		case flagBlockSelf:
			k = Exact
		case flagBlockSubs:
			k = SubdomainsOnly
		default:
			k = Subtree
		}
		if !yield(Rule{Name: name, Kind: k, Allow: allow}) {
			return false
		}
	}
	return true
}

// Parse reads a list in format f and calls add for each rule, in file order. Bad lines are
// counted and described in the Stats and are never fatal; the error reports only a failure to
// read r (the Stats then cover the lines read before it).
//
// A nil add only counts.
func Parse(r io.Reader, f Format, add func(Rule)) (Stats, error) {
	if add == nil {
		add = func(Rule) {}
	}
	var p parser
	p.emit = func(name []byte, flags uint8) {
		s := string(name)
		flagsRules(s, flags, func(r Rule) bool { add(r); return true })
	}
	err := p.run(r, f)
	return p.stats, err
}

// parser turns lines into (name, flags) pairs without allocating for valid lines.
type parser struct {
	format Format
	emit   func(name []byte, flags uint8)
	stats  Stats

	lineNo  int
	raw     []byte // the current line, for errors
	rules   int    // rules produced by the current line
	badWhy  string // why the current line is bad, if it is
	nameBuf [maxName]byte
	head    [128]byte // the start of an over-long line
}

func (p *parser) run(r io.Reader, f Format) error {
	p.format = f
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		long := false
		if errors.Is(err, bufio.ErrBufferFull) {
			// Keep the head for the error message and skip to the next newline.
			line = p.head[:copy(p.head[:], line)]
			long = true
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err != nil && err != io.EOF {
			return err // a partial line: do not judge it
		}
		p.lineNo++
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if p.lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if len(line) > maxLine {
			long = true
		}
		p.line(line, long)
		if err == io.EOF {
			return nil
		}
	}
}

func (p *parser) line(line []byte, long bool) {
	p.stats.Lines++
	p.raw, p.rules, p.badWhy = line, 0, ""
	if long {
		p.bad("line longer than 4096 bytes")
	} else {
		s := trimSpace(line)
		switch {
		case len(s) == 0:
		case p.format == FormatDomains:
			p.domainLine(s)
		case p.format == FormatHosts:
			p.hostsLine(s)
		case p.format == FormatAdblock:
			p.mixedLine(s, true)
		default:
			p.mixedLine(s, false)
		}
	}
	switch {
	case p.badWhy != "":
		p.stats.Bad++
		if len(p.stats.Errors) < maxErrors {
			p.stats.Errors = append(p.stats.Errors, LineError{Line: p.lineNo, Reason: p.badWhy, Text: errorText(p.raw)})
		}
	case p.rules == 0:
		p.stats.Skipped++
	}
}

func (p *parser) bad(reason string) {
	if p.badWhy == "" {
		p.badWhy = reason
	}
}

// add validates a name and emits it.
func (p *parser) add(name []byte, flags uint8) {
	n, reason := normalize(&p.nameBuf, name)
	if reason != "" {
		p.bad(reason)
		return
	}
	p.rules++
	p.stats.Rules++
	p.emit(p.nameBuf[:n], flags)
}

// domainLine: "name", "*.name", "=name", each optionally followed by "# comment".
func (p *parser) domainLine(s []byte) {
	if s[0] == '#' || s[0] == '!' {
		return
	}
	tok, rest := cutSpace(s)
	if len(rest) > 0 && rest[0] != '#' {
		p.bad("unexpected text after the name")
		return
	}
	kind := Subtree
	switch {
	case tok[0] == '=':
		tok, kind = tok[1:], Exact
	case len(tok) >= 2 && tok[0] == '*' && tok[1] == '.':
		tok, kind = tok[2:], SubdomainsOnly
	}
	p.add(tok, kindFlags(kind, false))
}

// hostsLine: "address name [name...] [# comment]".
func (p *parser) hostsLine(s []byte) {
	if i := bytes.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	addr, rest := cutSpace(s)
	if len(addr) == 0 {
		return // a comment line
	}
	if !isIP(addr) {
		p.bad("first field is not an IP address")
		return
	}
	if len(rest) == 0 {
		p.bad("address without a name")
		return
	}
	for len(rest) > 0 {
		var name []byte
		name, rest = cutSpace(rest)
		if ignoredHost(name) {
			continue
		}
		p.add(name, kindFlags(Subtree, false))
	}
}

// ignoredHost reports the names that hosts files map for the machine itself.
func ignoredHost(name []byte) bool {
	name = bytes.TrimSuffix(name, []byte{'.'})
	for _, s := range [...]string{"localhost", "localhost.localdomain", "broadcasthost", "local", "0.0.0.0"} {
		if asciiEqualFold(name, s) {
			return true
		}
	}
	return len(name) >= 4 && asciiEqualFold(name[:4], "ip6-")
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// mixedLine parses a line of an adblock list, or of a list of unknown syntax (auto), where hosts,
// plain domain and adblock lines may all appear. In an adblock list an unanchored pattern that is
// not a plain name is a URL rule (skipped); in auto it is a bad domain line.
func (p *parser) mixedLine(s []byte, adblock bool) {
	switch s[0] {
	case '!', '#':
		return // comments ("! x", "# x") and global cosmetic rules ("##.ad")
	case '[':
		if s[len(s)-1] == ']' {
			return // "[Adblock Plus 2.0]"
		}
	case '/':
		if adblock {
			return // a regular expression rule
		}
	}
	if isCosmetic(s) {
		return
	}
	if s[0] == '|' || s[0] == '@' {
		p.adblockRule(s)
		return
	}
	if first, _ := cutSpace(s); isIP(first) {
		p.hostsLine(s)
		return
	}
	if adblock && bytes.ContainsAny(s, "^$|/*") && !bytes.HasPrefix(s, []byte("*.")) {
		return // an unanchored URL pattern
	}
	p.domainLine(s)
}

// isCosmetic reports element hiding, CSS, scriptlet and HTML filtering rules.
func isCosmetic(s []byte) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '#':
			t := s[i+1:]
			if len(t) > 0 && t[0] == '@' {
				t = t[1:]
			}
			if len(t) > 0 && (t[0] == '?' || t[0] == '$' || t[0] == '%') {
				t = t[1:]
			}
			if len(t) > 0 && t[0] == '#' {
				return true
			}
		case '$':
			if i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '@' && i+2 < len(s) && s[i+2] == '$') {
				return true
			}
		}
	}
	return false
}

// adblockRule parses "[@@]||name^[|][$important]", "[@@]|name^" (exact), "||*.name^".
func (p *parser) adblockRule(s []byte) {
	allow := false
	if len(s) >= 2 && s[0] == '@' && s[1] == '@' {
		allow, s = true, s[2:]
	}
	kind := Subtree
	switch {
	case len(s) >= 2 && s[0] == '|' && s[1] == '|':
		s = s[2:]
		if len(s) >= 2 && s[0] == '*' && s[1] == '.' {
			s, kind = s[2:], SubdomainsOnly
		}
	case len(s) >= 1 && s[0] == '|':
		s, kind = s[1:], Exact
	default:
		if !allow {
			p.bad("not an adblock rule")
			return
		}
		// "@@name^": an unanchored exception; only a plain name is DNS-applicable.
		if bytes.ContainsAny(s, "^$|/*:") {
			trimmed := bytes.TrimRight(bytes.TrimSuffix(s, []byte("^")), "|")
			if bytes.ContainsAny(trimmed, "^$|/*:") {
				return
			}
			s = trimmed
		}
	}
	end := bytes.IndexAny(s, "^$|/:?*")
	if end < 0 {
		end = len(s)
	}
	name, rest := s[:end], s[end:]
	if len(rest) > 0 {
		switch rest[0] {
		case '/', ':', '?', '*':
			return // a URL-path, port or wildcard rule: not DNS-applicable
		}
	}
	if len(rest) > 0 && rest[0] == '^' {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == '|' {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != '$' {
			return // more pattern after the separator ("^*.js"): a URL rule
		}
		for mods, more := rest[1:], true; more; {
			var mod []byte
			mod, mods, more = bytes.Cut(mods, []byte{','})
			if string(mod) != "important" {
				return // $third-party, $script, $domain=, $dnstype=...: not a plain DNS rule
			}
		}
	}
	if len(name) == 0 {
		p.bad("empty name")
		return
	}
	p.add(name, kindFlags(kind, allow))
}

var spaceTab = [256]bool{' ': true, '\t': true, '\r': true, '\v': true, '\f': true}

func isSpace(c byte) bool { return spaceTab[c] }

func trimSpace(s []byte) []byte {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// cutSpace splits s at its first run of white space.
func cutSpace(s []byte) (tok, rest []byte) {
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return s[:i], trimSpace(s[i:])
}
