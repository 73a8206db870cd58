package cache

// KeyHeaderLen is the number of bytes AppendKey writes before the name.
const KeyHeaderLen = 5

// AppendKey appends the cache key for a question to dst and returns the
// extended slice. name is the query name in presentation form, without the
// trailing dot (one is removed if present); ASCII letters are lowercased
// here too, so a caller that forgot costs a miss, never a wrong answer. The
// fixed-size qtype, qclass and DO fields come first, which keeps keys
// unambiguous whatever bytes the name holds. Build it in a stack buffer:
//
//	var buf [256]byte
//	key := cache.AppendKey(buf[:0], name, qtype, qclass, do)
func AppendKey(dst []byte, name []byte, qtype, qclass uint16, do bool) []byte {
	var flags byte
	if do {
		flags = 1
	}
	dst = append(dst, byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass), flags)
	if n := len(name); n > 0 && name[n-1] == '.' && !escaped(name, n-1) {
		name = name[:n-1]
	}
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}

// escaped reports whether name[i] is preceded by an odd number of
// backslashes, i.e. is a literal character and not a label separator.
func escaped(name []byte, i int) bool {
	n := 0
	for i--; i >= 0 && name[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}
