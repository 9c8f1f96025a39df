package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	m := NewMemory(Limit{Quota: 3, Window: time.Minute}, 100)
	m.now = func() time.Time { return now }
	ctx := context.Background()

	for i, wantRemaining := range []int{2, 1, 0} {
		d, err := m.Allow(ctx, "alice")
		if err != nil || !d.Allowed || d.Remaining != wantRemaining || d.Quota != 3 || d.Window != time.Minute {
			t.Fatalf("request %d: got %+v, %v; want allowed with %d remaining", i+1, d, err, wantRemaining)
		}
	}
	d, _ := m.Allow(ctx, "alice")
	if d.Allowed || d.RetryAfter != 20*time.Second || d.Remaining != 0 {
		t.Fatalf("4th request: got %+v, want refused with RetryAfter 20s", d)
	}
	if d, _ := m.Allow(ctx, "bob"); !d.Allowed {
		t.Fatalf("another key shares the quota: %+v", d)
	}
	now = now.Add(20 * time.Second)
	if d, _ := m.Allow(ctx, "alice"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after RetryAfter: got %+v, want allowed", d)
	}
	now = now.Add(time.Minute)
	d, _ = m.Allow(ctx, "alice")
	if !d.Allowed || d.Remaining != 2 || d.Reset != 20*time.Second {
		t.Fatalf("after a full window: got %+v, want 2 remaining, reset in 20s", d)
	}
}

func TestMemoryForgetsIdleKeysFirst(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	m := NewMemory(Limit{Quota: 1, Window: time.Minute}, 4)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	_, _ = m.Allow(ctx, "busy")
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		now = now.Add(time.Second)
		_, _ = m.Allow(ctx, k)
		if len(m.buckets) > 4 {
			t.Fatalf("holds %d keys, want at most 4", len(m.buckets))
		}
	}
	// "f" was just refused its quota: it must still be remembered, so a
	// refused caller cannot get a fresh quota by crowding the map.
	if d, _ := m.Allow(ctx, "f"); d.Allowed {
		t.Fatalf("most recent key was forgotten: %+v", d)
	}
}
