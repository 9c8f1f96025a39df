package jwks

import (
	"crypto/sha256"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/ports"
)

// TestTokenCache: an accepted token is answered again from the cache, but
// never past its exp, never after its key left the key set, never after its
// organization's issuer was removed, and a token differing in one byte is
// verified on its own.
func TestTokenCache(t *testing.T) {
	k := testKeys()
	ks := newKeyServer(t, rsaJWK("k1", &k.k1.PublicKey))
	cfg := testConfig(ks.URL)
	cfg.Leeway = time.Millisecond
	tks := newKeyServer(t, defaultKeys()...)
	m, err := NewIssuers(t.Context(), []Config{cfg}, IssuersOptions{TenantHTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, token{})
	first, err := m.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Verify(t.Context(), tok)
	if err != nil || !reflect.DeepEqual(first, again) || m.cache.len() != 1 {
		t.Fatalf("second verification = %+v, %v (cache %d), want %+v from the cache", again, err, m.cache.len(), first)
	}

	t.Run("forged signature", func(t *testing.T) {
		i := strings.LastIndexByte(tok, '.') + 5
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		forged := tok[:i] + string(c) + tok[i+1:]
		if _, err := m.Verify(t.Context(), forged); reasonOf(err) != ports.ReasonBadSignature {
			t.Fatalf("forged token: %v, want bad_signature", err)
		}
	})

	t.Run("expired", func(t *testing.T) {
		exp := time.Now().Add(1500 * time.Millisecond).Unix()
		short := sign(t, token{claims: clm(map[string]any{"exp": exp})})
		if _, err := m.Verify(t.Context(), short); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Unix(exp, 0).Add(50 * time.Millisecond)))
		if _, err := m.Verify(t.Context(), short); reasonOf(err) != ports.ReasonExpired {
			t.Fatalf("after exp: %v, want expired", err)
		}
	})

	t.Run("tenant issuer removed", func(t *testing.T) {
		tcfg := Config{Issuer: issT, Audience: testAud, JWKSURL: tks.URL}
		if err := m.SetTenantIssuers([]TenantIssuer{{OrgID: "org-1", Config: tcfg}}); err != nil {
			t.Fatal(err)
		}
		ttok := sign(t, token{claims: claimsFor(issT, nil)})
		for range 2 {
			if p, err := m.Verify(t.Context(), ttok); err != nil || p.ProviderOrgID != "org-1" {
				t.Fatalf("tenant token: %+v, %v", p, err)
			}
		}
		if err := m.SetTenantIssuers(nil); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Verify(t.Context(), ttok); reasonOf(err) != ports.ReasonWrongIssuer {
			t.Fatalf("after removal: %v, want wrong_issuer", err)
		}
	})

	t.Run("key removed from the key set", func(t *testing.T) {
		ks.set(http.StatusOK, rsaJWK("k2", &k.k2.PublicKey))
		// A token of the new key makes the verifier fetch the new set.
		newTok := sign(t, token{header: hdr(map[string]any{"kid": "k2"}), key: k.k2})
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := m.Verify(t.Context(), newTok); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the new key never loaded: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := m.Verify(t.Context(), tok); reasonOf(err) != ports.ReasonUnknownKey {
			t.Fatalf("token of a removed key: %v, want unknown_key", err)
		}
	})
}

// TestTokenCacheBounded: a flood of distinct tokens never holds more than
// the cache's size; expired entries go first.
func TestTokenCacheBounded(t *testing.T) {
	c := newTokenCache(100)
	v := &Verifier{}
	now := time.Now()
	for i := range 1000 {
		until := now.Add(time.Hour)
		if i%2 == 0 {
			until = now.Add(time.Millisecond)
		}
		c.put(sha256.Sum256([]byte{byte(i), byte(i >> 8)}), cachedToken{until: until.UnixNano(), v: v}, now)
		if c.len() > 100 {
			t.Fatalf("cache holds %d entries, more than its size 100", c.len())
		}
	}
	later := now.Add(time.Second)
	c.put(sha256.Sum256([]byte("new")), cachedToken{until: later.Add(time.Hour).UnixNano(), v: v}, later)
	if _, ok := c.get(sha256.Sum256([]byte("new")), later, nil); !ok {
		t.Error("the newest entry is missing")
	}
	if c := newTokenCache(-1); func() bool {
		c.put(sha256.Sum256(nil), cachedToken{until: now.Add(time.Hour).UnixNano(), v: v}, now)
		return c.len() != 0
	}() {
		t.Error("a cache of size -1 kept an entry")
	}
}

// BenchmarkIssuersVerify is the verification a request pays with the token
// cache (the same token again: the usual client) and without it.
func BenchmarkIssuersVerify(b *testing.B) {
	ks := newKeyServerB(b, defaultKeys()...)
	tok := sign(b, token{claims: clm(map[string]any{"exp": time.Now().Add(time.Hour).Unix()})})
	for _, size := range []int{0, -1} {
		name := "cached"
		if size < 0 {
			name = "uncached"
		}
		b.Run(name, func(b *testing.B) {
			m, err := NewIssuers(b.Context(), []Config{testConfig(ks.URL)}, IssuersOptions{TokenCacheSize: size})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
