package bootstrap

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/ports"
)

// TestIdempotencySweepRuns: serve's sweeper deletes expired idempotency
// keys on its interval, and leaves live ones.
func TestIdempotencySweepRuns(t *testing.T) {
	store := sqlstoretest.New(t)
	ctx := context.Background()
	now := time.Now()
	for _, k := range []struct {
		key string
		ttl time.Duration
	}{{"expired", -time.Minute}, {"live", time.Hour}} {
		req := ports.NewIdempotentRequest(ports.IdempotencyScope{Issuer: "i", Subject: "s", Method: "POST", Route: "/r", Key: k.key},
			sha256.Sum256(nil), now.Add(-2*time.Minute), now.Add(k.ttl))
		if _, err := store.RecordResponse(ctx, req, "", ports.StoredResponse{Status: 400, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		var n int
		if err := store.DB().NewRaw("SELECT count(*) FROM idempotency_keys").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	lc := fxtest.NewLifecycle(t)
	startIdempotencySweep(lc, store, settings{IdempotencySweep: 10 * time.Millisecond}, zap.NewNop())
	lc.RequireStart()
	deadline := time.Now().Add(10 * time.Second)
	for count() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lc.RequireStop()
	if n := count(); n != 1 {
		t.Fatalf("%d keys after sweeping, want the live one", n)
	}
}
