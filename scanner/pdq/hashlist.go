package pdq

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ListEntry is one PDQ hash read from a hash-list file.
type ListEntry struct {
	Hash Hash
	Line int // 1-based, for messages that point back into the file
}

// HashList is what ParseHashList read.
type HashList struct {
	Entries []ListEntry
	// Skipped counts lines of other signal types (md5, url, raw_text, …): the format carries
	// several kinds of signal in one file, and only PDQ is for this package.
	Skipped int
}

// maxLine bounds one line; a PDQ line is 68 bytes, so anything near this is not a hash list.
const maxLine = 4096

// ParseHashList reads python-threatexchange's one-signal-per-line file format: each line is
// `<signal_type> <value>`, e.g. `pdq 0123…` (64 hex digits). A bare 64-hex-digit line is read
// as PDQ too, since that is what most tools export. Blank lines and lines starting with '#'
// are skipped. An error names the line and says what is wrong with it; nothing is returned
// from a file with a bad line, so a half-read list is never imported.
func ParseHashList(r io.Reader) (HashList, error) {
	var out HashList
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a byte-order mark from Windows editors
		}
		line := strings.TrimSpace(string(b))
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		var value string
		switch {
		case len(fields) == 1 && len(fields[0]) == 64:
			value = fields[0]
		case len(fields) == 2 && strings.EqualFold(fields[0], "pdq"):
			value = fields[1]
		case len(fields) >= 2 && isSignalType(fields[0]):
			out.Skipped++
			continue
		default:
			return HashList{}, fmt.Errorf("pdq: hash list line %d: want `pdq <64 hex digits>`, got %q", n, clip(line))
		}
		h, err := parseHash(value)
		if err != nil {
			return HashList{}, fmt.Errorf("pdq: hash list line %d: bad hash: %w", n, err)
		}
		out.Entries = append(out.Entries, ListEntry{Hash: h, Line: n})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return HashList{}, fmt.Errorf("pdq: hash list line %d: longer than %d bytes: %w", n+1, maxLine, err)
		}
		return HashList{}, fmt.Errorf("pdq: hash list after line %d: %w", n, err)
	}
	return out, nil
}

// isSignalType accepts the shape of python-threatexchange's signal type names (pdq, md5,
// video_md5, raw_text, url, …), so that other signals are skipped but garbage is an error.
func isSignalType(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return !strings.EqualFold(s, "pdq")
}

// clip keeps error messages short when a line is long.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
