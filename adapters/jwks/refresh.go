package jwks

import (
	"context"
	"errors"
	"time"

	"github.com/MicahParks/jwkset"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/ports"
)

// Refresh timing. jwkset's own unknown-kid refresh is not used: it fetches
// on the requesting goroutine under the same deadline as the wait for its
// rate limiter (so a 100 ms wait would also cut every fetch at 100 ms), and
// junk kids spend the limiter a genuine new key needs. Here one goroutine
// does every fetch, and requests only ask it and wait a little.
const (
	// retryMin and retryMax bound the backoff while no key set has loaded.
	retryMin = 250 * time.Millisecond
	retryMax = 5 * time.Second
	// staleRetryMin and staleRetryMax bound the backoff of a failed refresh
	// once keys are cached (never beyond the refresh interval).
	staleRetryMin = 5 * time.Second
	staleRetryMax = 5 * time.Minute
	// unknownKIDEvery is the least time between two fetches asked for by
	// unknown key IDs (retryMin while no key set has loaded yet).
	unknownKIDEvery = 5 * time.Second
	// unknownKIDWait is how long a request with an unknown key ID waits for
	// the fetch it asked for.
	unknownKIDWait = 100 * time.Millisecond
)

// keyStore is the jwkset storage keyfunc reads keys from: an in-memory set
// that, for an unknown key ID, asks the refresh goroutine for a fetch and
// waits up to unknownKIDWait for it before looking again.
type keyStore struct {
	*jwkset.MemoryJWKSet
	v *Verifier
}

// KeyRead returns the key with ID kid, asking for a refresh when it is not
// cached.
func (s *keyStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	jwk, err := s.MemoryJWKSet.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return jwk, err
	}
	s.v.awaitRefresh(ctx)
	return s.MemoryJWKSet.KeyRead(ctx, kid)
}

// awaitRefresh asks for an early fetch and waits until the next fetch ends,
// unknownKIDWait passes or ctx ends, whichever comes first.
func (v *Verifier) awaitRefresh(ctx context.Context) {
	v.doneMu.Lock()
	done := v.done
	v.doneMu.Unlock()
	select {
	case v.kick <- struct{}{}:
	default: // a request is already pending
	}
	t := time.NewTimer(unknownKIDWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// run is the refresh goroutine: it fetches on schedule (a short backoff
// until keys have loaded, then the refresh interval, with a backoff after a
// failure) and early when an unknown key ID asks, at most once per
// unknownKIDEvery. Every fetch happens here, so they never overlap.
func (v *Verifier) run(ctx context.Context) {
	backoff := retryMin
	var lastStart time.Time // New's attempt does not delay the first asked-for fetch
	next := v.after(&backoff, v.lastOK.Load())
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.kick:
			every := unknownKIDEvery
			if !v.loaded.Load() {
				every = retryMin // no key at all yet: ask more often, still single flight
			}
			earliest := lastStart.Add(every)
			if time.Now().Before(earliest) {
				if earliest.Before(next) {
					next = earliest
					timer.Reset(time.Until(next))
				}
				continue
			}
		case <-timer.C:
		}
		lastStart = time.Now()
		err := v.fetch(ctx)
		next = v.after(&backoff, err == nil)
		timer.Reset(time.Until(next))
	}
}

// after returns when the next scheduled fetch is due, given whether the
// last one succeeded, and advances the backoff.
func (v *Verifier) after(backoff *time.Duration, ok bool) time.Time {
	now := time.Now()
	switch {
	case ok && v.loaded.Load():
		*backoff = staleRetryMin
		return now.Add(v.cfg.RefreshInterval)
	case !v.loaded.Load():
		d := *backoff
		*backoff = min(2*d, retryMax)
		return now.Add(min(d, retryMax))
	default: // keys cached, but the last fetch failed
		d := max(*backoff, staleRetryMin)
		*backoff = min(2*d, staleRetryMax)
		return now.Add(min(d, v.cfg.RefreshInterval))
	}
}

// fetch discovers the JWKS address if it is not known yet, then fetches
// and replaces the key set. It records the outcome, logs only changes of
// state (failing, recovered), and wakes the requests waiting for it.
func (v *Verifier) fetch(ctx context.Context) (err error) {
	defer func() {
		v.record(err)
		v.doneMu.Lock()
		close(v.done)
		v.done = make(chan struct{})
		v.doneMu.Unlock()
	}()
	u := v.JWKSURL()
	if u == "" {
		if u, err = discover(ctx, v.cfg.HTTPClient, v.cfg.Issuer); err != nil {
			return err
		}
		v.jwksURL.Store(&u)
	}
	// With no RefreshInterval, jwkset fetches once, parses the set (skipping
	// unsupported keys) and replaces the storage's keys only on success.
	_, err = jwkset.NewStorageFromHTTP(u, jwkset.HTTPClientStorageOptions{
		Client:      v.cfg.HTTPClient,
		Ctx:         ctx,
		HTTPTimeout: httpTimeout,
		Storage:     v.store.MemoryJWKSet,
	})
	if err != nil {
		return err
	}
	all, err := v.store.MemoryJWKSet.KeyReadAll(ctx)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return errNoUsableKey
	}
	return nil
}

// errNoUsableKey is a key set that loaded but holds no key this service can use.
var errNoUsableKey = errors.New("the key set holds no usable key")

// record stores the outcome of a fetch and logs when the state changes.
func (v *Verifier) record(err error) {
	if v.cfg.Events != nil {
		label := v.cfg.Issuer
		if v.cfg.ProviderOrgID != "" {
			label = ports.TenantIssuerLabel
		}
		v.cfg.Events.KeyRefresh(label, err == nil)
	}
	if err == nil {
		v.keyGen.Add(1)
		v.lastSuccess.Store(time.Now().UnixNano())
		wasLoaded := v.loaded.Swap(true)
		if !v.lastOK.Swap(true) {
			if wasLoaded {
				v.log.Info("jwks: key set refreshed again", zap.String("url", v.JWKSURL()))
			} else {
				v.log.Info("jwks: key set loaded", zap.String("url", v.JWKSURL()))
			}
		}
		return
	}
	v.lastErr.Store(&err)
	prevOK := v.lastOK.Swap(false)
	first := v.warned.CompareAndSwap(false, true)
	switch {
	case prevOK || first:
		msg := "jwks: key set not loaded yet; retrying with backoff"
		if v.loaded.Load() {
			msg = "jwks: key set refresh failed; keeping the cached keys and retrying with backoff"
		}
		v.log.Warn(msg, zap.String("url", v.JWKSURL()), zap.String("issuer", v.cfg.Issuer), zap.Error(err))
	default:
		v.log.Debug("jwks: key set fetch failed again", zap.Error(err))
	}
}
