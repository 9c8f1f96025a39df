// Package system adapts the operating system's clock and random source to
// the ports.Clock and ports.IDGenerator driven ports.
package system

import (
	"time"

	"github.com/google/uuid"

	"github.com/orgstack/orgstack/ports"
)

var (
	_ ports.Clock       = Clock{}
	_ ports.IDGenerator = UUIDv7{}
)

// Clock is the wall clock, truncated to microseconds so that values survive
// a round trip through either database unchanged.
type Clock struct{}

// Now returns the current UTC time.
func (Clock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// UUIDv7 generates RFC 9562 version 7 UUIDs: unique, and sortable by
// creation time, which keeps B-tree indexes compact.
type UUIDv7 struct{}

// NewID returns a new UUIDv7 in its canonical text form.
func (UUIDv7) NewID() string { return uuid.Must(uuid.NewV7()).String() }
