package jwks

import (
	"strconv"
	"strings"

	"github.com/orgstack/orgstack/domain"
)

// ClaimPath locates a claim: a list of keys walking nested JSON objects
// (["realm_access", "roles"], ["https://example.com/org"]). A key is never
// split on dots: a dotted string cannot tell a nested path from a claim name
// containing dots.
type ClaimPath []string

// Lookup returns the value at p in claims, and whether it is present
// (domain.ClaimPath.Lookup).
func (p ClaimPath) Lookup(claims map[string]any) (any, bool) {
	return domain.ClaimPath(p).Lookup(claims)
}

// String shows p as a list of quoted keys, such as ["realm_access" "roles"],
// or the single key for a top-level claim.
func (p ClaimPath) String() string {
	if len(p) == 1 {
		return p[0]
	}
	q := make([]string, len(p))
	for i, k := range p {
		q[i] = strconv.Quote(k)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// ClaimValue is a claim value an issuer requires in every token.
type ClaimValue struct {
	Path  ClaimPath
	Value string
}
