package store

import "errors"

// ErrNotFound is returned (wrapped) when a record asked for by id, ref or key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) when a record changed since the caller read it: two analysts
// acted on the same case at once, and the second must look again before deciding.
var ErrConflict = errors.New("changed by someone else in the meantime")

// ErrRefTaken is returned (wrapped) when a new record's random reference is already in use: the
// caller draws another one and tries again.
var ErrRefTaken = errors.New("reference already in use")
