package jwks

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstack/orgstack/ports"
)

// reasonOf returns the reason of a *ports.TokenError, or "".
func reasonOf(err error) ports.TokenReason {
	var te *ports.TokenError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

// waitReady polls Ready (no token is verified meanwhile) and returns how
// long it took, failing after limit.
func waitReady(t *testing.T, v *Verifier, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !v.Ready() {
		if time.Since(start) > limit {
			t.Fatalf("not ready %v after the provider came back", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestProviderDownAtStart: with the JWKS endpoint failing, New succeeds and
// the verifier is not ready; a well-formed token of the configured issuer is
// keys_unavailable (an UnavailableError, so 503 upstream), while tokens the
// checks without keys can judge keep their 401 reason. When the provider
// comes back the verifier turns ready within seconds, without any token.
func TestProviderDownAtStart(t *testing.T) {
	ks := newKeyServer(t)
	ks.set(http.StatusServiceUnavailable)
	v := newVerifier(t, testConfig(ks.URL))
	if v.Ready() {
		t.Fatal("Ready = true before any key set was loaded")
	}
	now := time.Now().Unix()
	tests := []struct {
		name string
		give string
		want ports.TokenReason
	}{
		{"well-formed", sign(t, token{}), ports.ReasonKeysUnavailable},
		{"unknown kid", sign(t, token{header: hdr(map[string]any{"kid": "k9"})}), ports.ReasonKeysUnavailable},
		{"other issuer", sign(t, token{claims: clm(map[string]any{"iss": "https://other.test"})}), ports.ReasonWrongIssuer},
		{"other audience", sign(t, token{claims: clm(map[string]any{"aud": "other"})}), ports.ReasonWrongAudience},
		{"expired", sign(t, token{claims: clm(map[string]any{"exp": now - 3600})}), ports.ReasonExpired},
		{"sub with NUL", sign(t, token{claims: clm(map[string]any{"sub": "a\x00"})}), ports.ReasonMalformed},
		{"HS256", sign(t, token{header: hdr(map[string]any{"alg": "HS256"}), method: jwtHS256, key: []byte("k")}), ports.ReasonBadSignature},
		{"garbage", "a.b.c", ports.ReasonMalformed},
	}
	for _, tt := range tests {
		_, err := v.Verify(t.Context(), tt.give)
		if got := reasonOf(err); got != tt.want {
			t.Errorf("%s: reason %q (%v), want %q", tt.name, got, err, tt.want)
		}
		if tt.want == ports.ReasonKeysUnavailable && !ports.IsUnavailable(err) {
			t.Errorf("%s: %v does not wrap a *ports.UnavailableError", tt.name, err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // a few failed retries
	ks.set(http.StatusOK, defaultKeys()...)
	took := waitReady(t, v, 6*time.Second)
	t.Logf("ready %v after the provider came back (fetches so far: %d)", took, ks.hits.Load())
	if _, err := v.Verify(t.Context(), sign(t, token{})); err != nil {
		t.Fatalf("Verify after the provider came back: %v", err)
	}
	// Once loaded, a failing provider keeps the cached keys.
	ks.set(http.StatusServiceUnavailable)
	if _, err := v.Verify(t.Context(), sign(t, token{})); err != nil || !v.Ready() {
		t.Errorf("after a later failure: Verify %v, Ready %v; want the cached keys", err, v.Ready())
	}
}

// TestDiscoveryUnreachableAtStart: in discovery mode the issuer cannot be
// reached at start; New still succeeds, and once the provider listens the
// verifier discovers the JWKS address and turns ready within seconds.
func TestDiscoveryUnreachableAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	issuer := "http://" + addr
	cfg := testConfig("")
	cfg.Issuer = issuer
	v := newVerifier(t, cfg)
	if v.Ready() || v.JWKSURL() != "" {
		t.Fatalf("Ready %v, JWKSURL %q before discovery", v.Ready(), v.JWKSURL())
	}
	_, err = v.Verify(t.Context(), sign(t, token{claims: clm(map[string]any{"iss": issuer})}))
	if reasonOf(err) != ports.ReasonKeysUnavailable {
		t.Fatalf("Verify before discovery: %v, want keys_unavailable", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"` + issuer + `/keys"}`))
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(mustJSON(t, map[string]any{"keys": defaultKeys()}))
	})
	srv := httptest.NewUnstartedServer(mux)
	if srv.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	took := waitReady(t, v, 6*time.Second)
	t.Logf("ready %v after the provider started listening", took)
	if got := v.JWKSURL(); got != issuer+"/keys" {
		t.Errorf("JWKSURL = %q", got)
	}
	if _, err := v.Verify(t.Context(), sign(t, token{claims: clm(map[string]any{"iss": issuer})})); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestKeyRotationUnderUnknownKIDSpray: while tokens with random unknown kids
// arrive without pause, a key the provider publishes becomes usable within
// 10 s; the refreshes the spray triggers are single-flight and at most one
// per 5 s, and no request waits more than ~100 ms for one.
func TestKeyRotationUnderUnknownKIDSpray(t *testing.T) {
	keys := testKeys()
	ks := newKeyServer(t, rsaJWK("k1", &keys.k1.PublicKey))
	var inFlight, maxInFlight atomic.Int64
	inner := ks.Config.Handler
	ks.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // a provider that takes a moment
		inner.ServeHTTP(w, r)
	})
	v := newVerifier(t, testConfig(ks.URL))
	if _, err := v.Verify(t.Context(), sign(t, token{})); err != nil {
		t.Fatalf("K1: %v", err)
	}

	// The spray starts before the rotation and goes on throughout.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var slowest atomic.Int64
	var sprayed atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				junk := sign(t, token{header: hdr(map[string]any{"kid": "junk-" + rand.Text()})})
				start := time.Now()
				_, err := v.Verify(t.Context(), junk)
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				sprayed.Add(1)
				if r := reasonOf(err); r != ports.ReasonUnknownKey {
					t.Errorf("junk kid: reason %q (%v), want unknown_key", r, err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // the spray spends the first refresh
	hitsBefore := ks.hits.Load()
	ks.set(http.StatusOK, rsaJWK("k1", &keys.k1.PublicKey), rsaJWK("k2", &keys.k2.PublicKey))
	published := time.Now()
	k2 := sign(t, token{header: hdr(map[string]any{"kid": "k2"}), key: keys.k2})
	var usable time.Duration
	for {
		if _, err := v.Verify(t.Context(), k2); err == nil {
			usable = time.Since(published)
			break
		}
		if time.Since(published) > 10*time.Second {
			t.Fatal("the new key K2 was not usable within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(5500 * time.Millisecond) // keep spraying past another window
	close(stop)
	wg.Wait()
	elapsed := time.Since(published)
	fetches := ks.hits.Load() - hitsBefore
	t.Logf("K2 usable after %v; %d JWKS fetches in %v under %d unknown-kid tokens; slowest junk request %v",
		usable, fetches, elapsed.Round(time.Millisecond), sprayed.Load(), time.Duration(slowest.Load()))
	if limit := int64(elapsed/unknownKIDEvery) + 1; fetches > limit {
		t.Errorf("%d fetches in %v, want at most %d (one per 5 s)", fetches, elapsed, limit)
	}
	if m := maxInFlight.Load(); m > 1 {
		t.Errorf("%d fetches ran at once, want 1 (single flight)", m)
	}
	// The wait is 100 ms; the rest of the bound is for a loaded machine
	// (jwkset's own refresh held such requests up to 2 s).
	if d := time.Duration(slowest.Load()); d > time.Second {
		t.Errorf("a junk-kid request took %v, want about 100 ms at most", d)
	}
	// K1 is still published, K2 is too.
	if _, err := v.Verify(t.Context(), sign(t, token{})); err != nil {
		t.Errorf("K1 after rotation: %v", err)
	}
}

// TestRetiredKeyAndUnknownKIDWhileDown: a key the provider retires is
// refused as unknown_key after the next refresh; an unknown kid while the
// provider is failing is keys_unavailable, since the key may be new.
func TestRetiredKeyAndUnknownKIDWhileDown(t *testing.T) {
	keys := testKeys()
	ks := newKeyServer(t, rsaJWK("k1", &keys.k1.PublicKey))
	v := newVerifier(t, testConfig(ks.URL))
	k1 := sign(t, token{})
	if _, err := v.Verify(t.Context(), k1); err != nil {
		t.Fatal(err)
	}
	ks.set(http.StatusOK, rsaJWK("k2", &keys.k2.PublicKey))
	time.Sleep(unknownKIDEvery)
	k2 := sign(t, token{header: hdr(map[string]any{"kid": "k2"}), key: keys.k2})
	if _, err := v.Verify(t.Context(), k2); err != nil {
		t.Fatalf("K2: %v", err)
	}
	if _, err := v.Verify(t.Context(), k1); reasonOf(err) != ports.ReasonUnknownKey {
		t.Errorf("retired K1: %v, want unknown_key", err)
	}
	ks.set(http.StatusServiceUnavailable)
	time.Sleep(unknownKIDEvery)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := v.Verify(t.Context(), sign(t, token{header: hdr(map[string]any{"kid": "k3"})}))
		if reasonOf(err) == ports.ReasonKeysUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unknown kid while the provider fails: %v, want keys_unavailable", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := v.Verify(t.Context(), k2); err != nil {
		t.Errorf("cached K2 while the provider fails: %v", err)
	}
}

var jwtHS256 = jwt.SigningMethodHS256

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
