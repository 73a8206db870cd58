// Package audit is the hotline's tamper-evident audit log: the record every view of sensitive
// data and every change leaves behind, the hash that chains each record to the one before, and
// the verifier that walks the chain and names the first record that was edited, inserted,
// deleted or reordered.
//
// The chain proves that the records it holds are the ones written, in that order; it cannot by
// itself prove that records were not cut off the end (an attacker who deletes the last rows
// leaves a shorter but intact chain). An Anchor closes that gap: save the head (`kidshield
// audit verify --save-anchor FILE`) somewhere the database host cannot write — another machine,
// a ticket, a printout — and later verification against it detects a truncated tail or a
// rewritten history. An anchor kept on the database host protects nothing an intruder there
// cannot also rewrite.
//
// The package is pure: it imports nothing of the project, so the store and the command line
// share it without pulling in anything else.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// Record is one row of the audit log as stored.
//
// Detail is the JSON object stored with the record, exactly as stored (the hash covers its
// bytes). It never holds personal data: it names what was seen or changed (ids, field names,
// counts, states), not values a person could be identified by.
type Record struct {
	Seq      int64  // 1, 2, 3, ... without gaps
	TimeUS   int64  // unix microseconds, UTC
	Actor    string // "user:12", "token:3", "system:purge", "cli"
	Action   string // "case.view", "report.create", "keys.rotate", ...
	Object   string // "case:2026-000123", "user:4", ...
	Detail   string // a JSON object, never personal data
	PrevHash string // Hash of record Seq-1; "" for the first record
	Hash     string // Hash(PrevHash, this record)
}

// Time returns the record's time in UTC.
func (r Record) Time() time.Time { return time.UnixMicro(r.TimeUS).UTC() }

// domain separates this hash from any other SHA-256 of similar bytes, and versions the
// encoding: a change of encoding is a new domain.
const domain = "kidshield-audit-v1"

// Hash returns the record's hash: hex SHA-256 over an unambiguous encoding of the domain, seq,
// time, actor, action, object, detail and prev, in that order. Integers are 8 bytes big-endian;
// every string is preceded by its length (8 bytes big-endian), so no choice of field contents
// can make two different records encode alike. rec.PrevHash and rec.Hash are ignored: prev is
// the argument.
func Hash(prev string, rec Record) string {
	h := sha256.New()
	var n [8]byte
	str := func(h hash.Hash, s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(h hash.Hash, v int64) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	str(h, domain)
	num(h, rec.Seq)
	num(h, rec.TimeUS)
	str(h, rec.Actor)
	str(h, rec.Action)
	str(h, rec.Object)
	str(h, rec.Detail)
	str(h, prev)
	return hex.EncodeToString(h.Sum(nil))
}

// Result is what Verify read.
type Result struct {
	// Records is the number of records that verified (all of them when Verify returns nil).
	Records int64
	// HeadSeq and HeadHash are the last record that verified; 0 and "" for an empty log.
	HeadSeq  int64
	HeadHash string
}

// Head returns the anchor of the verified head.
func (r Result) Head() Anchor { return Anchor{Seq: r.HeadSeq, Hash: r.HeadHash} }

// ErrBroken is wrapped by every *BreakError.
var ErrBroken = errors.New("audit log broken")

// BreakError names the first record at which the chain is broken.
type BreakError struct {
	Seq    int64  // the first bad seq
	Reason string // what is wrong, for a person
}

func (e *BreakError) Error() string {
	return fmt.Sprintf("audit log broken at seq %d: %s", e.Seq, e.Reason)
}

func (e *BreakError) Unwrap() error { return ErrBroken }

// Verify reads the log in seq order through next (which returns false when there are no more
// records) and checks the chain: seq runs 1, 2, 3, ... without gaps, each record's PrevHash is
// the previous record's Hash, and each Hash is Hash(PrevHash, record). The first violation is
// returned as a *BreakError, together with the Result up to the last good record; an error of
// next is returned wrapped.
//
// What each kind of tampering looks like:
//   - an edited record: its hash does not match its content;
//   - an edited record whose hash was recomputed: the next record's prev_hash does not match;
//   - a deleted record: a gap in seq (or, when the rest were renumbered, a prev_hash mismatch);
//   - an inserted or reordered record: a seq out of order or a hash or prev_hash mismatch;
//   - deleted records at the end: nothing, unless checked against an Anchor (VerifyAnchor).
func Verify(ctx context.Context, next func() (Record, bool, error)) (Result, error) {
	var res Result
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		rec, ok, err := next()
		if err != nil {
			return res, fmt.Errorf("audit: verify: read after seq %d: %w", res.HeadSeq, err)
		}
		if !ok {
			return res, nil
		}
		want := res.HeadSeq + 1
		switch {
		case rec.Seq > want && rec.Seq == want+1:
			return res, &BreakError{Seq: want, Reason: fmt.Sprintf("record %d is missing (deleted?): the next record is %d", want, rec.Seq)}
		case rec.Seq > want:
			return res, &BreakError{Seq: want, Reason: fmt.Sprintf("records %d to %d are missing (deleted?): the next record is %d", want, rec.Seq-1, rec.Seq)}
		case rec.Seq < want:
			return res, &BreakError{Seq: rec.Seq, Reason: fmt.Sprintf("record %d appears after record %d (inserted or reordered?)", rec.Seq, res.HeadSeq)}
		}
		if rec.PrevHash != res.HeadHash {
			if want == 1 {
				return res, &BreakError{Seq: rec.Seq, Reason: "the first record's prev_hash is not empty (records before it deleted?)"}
			}
			return res, &BreakError{Seq: rec.Seq, Reason: fmt.Sprintf("prev_hash does not match the hash of record %d (record %d was altered or replaced, or records were deleted or inserted before %d)", res.HeadSeq, res.HeadSeq, rec.Seq)}
		}
		if got := Hash(rec.PrevHash, rec); got != rec.Hash {
			return res, &BreakError{Seq: rec.Seq, Reason: "hash does not match the record's content (the record was edited)"}
		}
		res.Records++
		res.HeadSeq, res.HeadHash = rec.Seq, rec.Hash
	}
}

// Anchor is a saved head of the log: the seq and hash of its last record at some moment. Keep
// it off the database host (see the package comment).
type Anchor struct {
	Seq  int64
	Hash string
}

// String formats the anchor as its file holds it: "SEQ HASH" ("0 -" for an empty log).
func (a Anchor) String() string {
	h := a.Hash
	if h == "" {
		h = "-"
	}
	return strconv.FormatInt(a.Seq, 10) + " " + h
}

// ParseAnchor reads "SEQ HASH" (surrounding white space and a trailing newline allowed).
func ParseAnchor(s string) (Anchor, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Anchor{}, fmt.Errorf("audit: anchor: want \"SEQ HASH\", got %q", strings.TrimSpace(s))
	}
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || seq < 0 {
		return Anchor{}, fmt.Errorf("audit: anchor: bad seq %q", f[0])
	}
	if f[1] == "-" {
		if seq != 0 {
			return Anchor{}, fmt.Errorf("audit: anchor: seq %d without a hash", seq)
		}
		return Anchor{}, nil
	}
	if b, err := hex.DecodeString(f[1]); err != nil || len(b) != sha256.Size {
		return Anchor{}, fmt.Errorf("audit: anchor: bad hash %q (want 64 hex digits)", f[1])
	}
	if seq == 0 {
		return Anchor{}, fmt.Errorf("audit: anchor: seq 0 with a hash")
	}
	return Anchor{Seq: seq, Hash: strings.ToLower(f[1])}, nil
}

// VerifyAnchor is Verify that also checks the log against an anchor saved earlier: the log must
// still reach the anchor's seq (else its tail was cut off) and hold the anchor's hash there
// (else the history up to the anchor was rewritten).
func VerifyAnchor(ctx context.Context, next func() (Record, bool, error), a Anchor) (Result, error) {
	var atAnchor string
	res, err := Verify(ctx, func() (Record, bool, error) {
		rec, ok, err := next()
		if ok && err == nil && rec.Seq == a.Seq {
			atAnchor = rec.Hash
		}
		return rec, ok, err
	})
	if err != nil || a.Seq == 0 {
		return res, err
	}
	if res.HeadSeq < a.Seq {
		return res, &BreakError{Seq: res.HeadSeq + 1, Reason: fmt.Sprintf("the log ends at seq %d but the anchor names seq %d: records %d to %d were deleted from the end", res.HeadSeq, a.Seq, res.HeadSeq+1, a.Seq)}
	}
	if atAnchor != a.Hash {
		return res, &BreakError{Seq: a.Seq, Reason: fmt.Sprintf("hash %s differs from the anchor's %s: the log was rewritten up to this record", atAnchor, a.Hash)}
	}
	return res, nil
}
