package jwks

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/orgstack/orgstack/ports"
)

// DefaultTokenCacheSize is how many verified tokens Issuers remembers
// unless IssuersOptions.TokenCacheSize says otherwise.
const DefaultTokenCacheSize = 10_000

// tokenCacheMaxTTL bounds how long a token is answered from the cache
// before it is verified again, whatever its exp says.
const tokenCacheMaxTTL = 10 * time.Minute

// tokenCache remembers tokens Issuers has verified, so that a client
// sending the same bearer token on every request (the usual case) pays for
// its signature check and claim decoding once, not on every request (RS256
// alone is ~40 µs of CPU; with the claim decoding, a fifth of a check's
// CPU). Measured in the perf notes.
//
// It is keyed by the SHA-256 digest of the raw token, so it never holds a
// token, and a token differing in any byte (a forged signature) is
// another key. Only accepted tokens are kept, each until the earliest of:
// its exp (without the leeway the verifier grants), its iat plus the
// issuer's MaxAge, tokenCacheMaxTTL, a change of the issuer's key set (any successful
// refresh: a key the provider stopped publishing stops verifying cached
// tokens too), and, for an organization's issuer, its replacement or
// removal. It holds at most max entries: when full, expired entries go
// first, then arbitrary ones, so a flood of distinct tokens costs memory
// bounded by max.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedToken
	max     int
}

type cachedToken struct {
	p      ports.Principal
	until  int64     // unix nanoseconds
	v      *Verifier // the verifier that accepted it
	keyGen uint64    // v's key-set generation then
	tenant *tenantIssuer
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]cachedToken), max: max}
}

func tokenKey(raw string) [sha256.Size]byte { return sha256.Sum256([]byte(raw)) }

// get returns the principal of a cached token that is still valid now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time, m *Issuers) (ports.Principal, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || now.UnixNano() >= e.until || e.v.keyGen.Load() != e.keyGen {
		return ports.Principal{}, false
	}
	// An organization's issuer: still the one configured, and in use (this
	// also keeps it from going idle while its tokens are served from here).
	if e.tenant != nil && e.tenant.start(m.ctx) != e.v {
		return ports.Principal{}, false
	}
	p := e.p
	p.MappedValues = slices.Clone(p.MappedValues)
	return p, true
}

// put remembers an accepted token until the time until.
func (c *tokenCache) put(key [sha256.Size]byte, e cachedToken, now time.Time) {
	if c.max <= 0 || e.until <= now.UnixNano() {
		return
	}
	e.p.MappedValues = slices.Clone(e.p.MappedValues)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
}

// evict makes room: expired entries, then arbitrary ones (map order) until
// a tenth of the capacity is free.
func (c *tokenCache) evict(now time.Time) {
	n := now.UnixNano()
	for k, e := range c.entries {
		if n >= e.until {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max-c.max/10 {
			break
		}
		delete(c.entries, k)
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
