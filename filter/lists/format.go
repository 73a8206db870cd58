package lists

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Format is the syntax of a list file.
type Format int

// The list syntaxes. See the package documentation for each one.
const (
	FormatAuto Format = iota
	FormatDomains
	FormatHosts
	FormatAdblock
)

var formatNames = [...]string{"auto", "domains", "hosts", "adblock"}

// ParseFormat parses a format name as written in configuration: "auto", "domains", "hosts" or
// "adblock" (case-insensitive).
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("parse list format: unknown format %q (want auto, domains, hosts or adblock)", s)
}

// String returns the name ParseFormat accepts.
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Kind says which names a rule covers.
type Kind uint8

const (
	// Subtree covers the name and all its subdomains: the default of every syntax.
	Subtree Kind = iota
	// Exact covers only the name itself.
	Exact
	// SubdomainsOnly covers the subdomains of the name but not the name (*.name).
	SubdomainsOnly
)

// String returns "subtree", "exact" or "subdomains".
func (k Kind) String() string {
	switch k {
	case Subtree:
		return "subtree"
	case Exact:
		return "exact"
	case SubdomainsOnly:
		return "subdomains"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Rule is one entry of a list.
type Rule struct {
	Name  string // lowercase ASCII (punycode), no trailing dot
	Kind  Kind
	Allow bool // an exception (adblock @@), not a block
}

// LineError describes a line that was not understood.
type LineError struct {
	Line   int    // 1-based line number
	Reason string // why the line was rejected
	Text   string // the offending line, cut to 80 bytes, valid UTF-8
}

func (e LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %q", e.Line, e.Reason, e.Text)
}

// maxErrors is how many LineErrors Stats keeps; later bad lines are only counted.
const maxErrors = 20

// Stats summarises a parse. Every line counts in Lines and, unless it yielded a rule, in exactly one
// of Skipped and Bad. A hosts line with both valid and invalid names yields its valid names and
// also counts as Bad.
type Stats struct {
	Lines   int // lines read
	Rules   int // rules produced (before duplicates are merged)
	Skipped int // comments, blanks, headers and valid rules that do not apply to DNS (cosmetic, URL-path, other $modifiers)
	Bad     int // lines rejected
	Errors  []LineError
}

// errorText cuts a line for LineError.Text: at most 80 bytes, valid UTF-8.
func errorText(line []byte) string {
	const max = 80
	if len(line) > max+utf8.UTFMax {
		line = line[:max+utf8.UTFMax]
	}
	s := strings.ToValidUTF8(string(line), "\uFFFD")
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}
