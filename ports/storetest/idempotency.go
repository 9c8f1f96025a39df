package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// The idempotency contract (ports.TxRunner.RunInTx with an
// ports.IdempotentRequest in the context, and ports.IdempotencyStore): the
// first transaction of a keyed request is its change and stays open until
// the edge commits it with the response; the key is looked up before the
// change runs; a key is never stored without its change, nor a change
// committed without its key. Stores that do not offer IdempotencyStore skip
// these cases.

// keyed returns a request with key, for subject sub, on the role-creation
// route, whose body is body; it was served at now and expires after ttl.
func keyed(sub, key, body string, now time.Time, ttl time.Duration) *ports.IdempotentRequest {
	return ports.NewIdempotentRequest(ports.IdempotencyScope{
		Issuer: "https://issuer.test", Subject: sub, Method: "POST", Route: "/api/v1/organizations/{orgId}/roles", Key: key,
	}, sha256.Sum256([]byte(body)), now, now.Add(ttl))
}

// inOrg returns ctx for req, with orgID noted as the request's resolved
// organization ("" notes none).
func inOrg(ctx context.Context, req *ports.IdempotentRequest, orgID string) context.Context {
	ctx = ports.WithRequestNote(ctx, &ports.RequestNote{})
	if orgID != "" {
		ports.NoteOrganization(ctx, orgID)
	}
	return ports.WithIdempotentRequest(ctx, req)
}

// idem returns the store's IdempotencyStore or skips the test.
func idem(t *testing.T, f *fixture) ports.IdempotencyStore {
	t.Helper()
	is, ok := f.s.(ports.IdempotencyStore)
	if !ok {
		t.Skip("the store does not offer ports.IdempotencyStore")
	}
	return is
}

// createRole runs the change "create role key in o" under ctx and returns
// RunInTx's error.
func createRole(f *fixture, ctx context.Context, o *domain.Organization, key string) error {
	r, err := domain.NewRole(f.id(), o.ID(), key, "Role "+key, "", nil, f.now())
	must(f.t, err)
	return f.s.RunInTx(ctx, func(ctx context.Context, repos ports.Repositories) error {
		return repos.Roles().Create(ctx, r)
	})
}

// roleExists reports whether o has a role with key.
func roleExists(f *fixture, o *domain.Organization, key string) bool {
	_, err := f.s.Roles().Get(f.ctx, o.ID(), domain.RoleKey(key))
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		f.t.Fatal(err)
	}
	return err == nil
}

var created = ports.StoredResponse{Status: 201, ContentType: "application/json", Location: "/api/v1/x/1", ETag: `"1"`, Body: []byte(`{"data":{}}` + "\n")}

var idempotencyTests = []contract{
	{"ChangeCommitsWithItsKeyAndIsReplayed", func(t *testing.T, f *fixture) {
		idem(t, f)
		o := f.org("acme", "Acme")
		now := f.now()
		req := keyed("alice", "k1", "body", now, time.Hour)
		must(t, createRole(f, inOrg(f.ctx, req, o.ID()), o, "editor"))
		pc := req.TakePending()
		if pc == nil {
			t.Fatal("RunInTx bound no change to the request")
		}
		must(t, pc.Commit(f.ctx, created))
		if !roleExists(f, o, "editor") {
			t.Fatal("the change was not committed")
		}
		retry := keyed("alice", "k1", "body", now.Add(time.Minute), time.Hour)
		err := createRole(f, inOrg(f.ctx, retry, o.ID()), o, "editor2")
		if !errors.Is(err, ports.ErrIdempotentReplay) {
			t.Fatalf("retry: %v, want ErrIdempotentReplay", err)
		}
		got := retry.Replay()
		if got == nil || got.Status != created.Status || got.Location != created.Location || got.ETag != created.ETag ||
			got.ContentType != created.ContentType || string(got.Body) != string(created.Body) {
			t.Fatalf("replay %+v, want %+v", got, created)
		}
		if roleExists(f, o, "editor2") || retry.Pending() != nil {
			t.Fatal("a replayed request ran its change")
		}
	}},
	{"RolledBackChangeLeavesNoKey", func(t *testing.T, f *fixture) {
		is := idem(t, f)
		o := f.org("acme", "Acme")
		now := f.now()
		req := keyed("alice", "k1", "body", now, time.Hour)
		must(t, createRole(f, inOrg(f.ctx, req, o.ID()), o, "editor"))
		must(t, req.TakePending().Rollback())
		if roleExists(f, o, "editor") {
			t.Fatal("a rolled-back change was committed")
		}
		retry := keyed("alice", "k1", "body", now, time.Hour)
		must(t, createRole(f, inOrg(f.ctx, retry, o.ID()), o, "editor"))
		must(t, retry.TakePending().Commit(f.ctx, created))
		if !roleExists(f, o, "editor") {
			t.Fatal("the retry's change was not committed")
		}
		if n, err := is.SweepIdempotencyKeys(f.ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v; want exactly the retry's key", n, err)
		}
	}},
	{"FailedChangeBindsNothing", func(t *testing.T, f *fixture) {
		idem(t, f)
		o := f.org("acme", "Acme")
		f.role(o, "editor", "Editor")
		req := keyed("alice", "k1", "body", f.now(), time.Hour)
		err := createRole(f, inOrg(f.ctx, req, o.ID()), o, "editor")
		if !errors.Is(err, domain.ErrRoleExists) {
			t.Fatalf("got %v, want ErrRoleExists", err)
		}
		if req.Pending() != nil {
			t.Fatal("a failed change was bound to the request")
		}
		// The request may still make its change in a later transaction,
		// and that one is bound.
		must(t, createRole(f, inOrg(f.ctx, req, o.ID()), o, "viewer"))
		pc := req.TakePending()
		if pc == nil {
			t.Fatal("the change after a failed transaction was not bound")
		}
		must(t, pc.Rollback())
	}},
	{"DifferentFingerprintIsReused", func(t *testing.T, f *fixture) {
		idem(t, f)
		o := f.org("acme", "Acme")
		now := f.now()
		req := keyed("alice", "k1", "body", now, time.Hour)
		must(t, createRole(f, inOrg(f.ctx, req, o.ID()), o, "editor"))
		must(t, req.TakePending().Commit(f.ctx, created))
		other := keyed("alice", "k1", "another body", now, time.Hour)
		if err := createRole(f, inOrg(f.ctx, other, o.ID()), o, "viewer"); !errors.Is(err, ports.ErrIdempotencyKeyReused) {
			t.Fatalf("got %v, want ErrIdempotencyKeyReused", err)
		}
		if !errors.Is(other.Refused(), ports.ErrIdempotencyKeyReused) || roleExists(f, o, "viewer") {
			t.Fatal("a reused key ran its change, or was not recorded as refused")
		}
	}},
	{"ScopesAreIndependent", func(t *testing.T, f *fixture) {
		idem(t, f)
		o1, o2 := f.org("acme", "Acme"), f.org("globex", "Globex")
		now := f.now()
		for _, tt := range []struct {
			sub  string
			org  *domain.Organization
			role string
		}{{"alice", o1, "a1"}, {"bob", o1, "b1"}, {"alice", o2, "a2"}} {
			req := keyed(tt.sub, "same-key", "body", now, time.Hour)
			must(t, createRole(f, inOrg(f.ctx, req, tt.org.ID()), tt.org, tt.role))
			pc := req.TakePending()
			if pc == nil {
				t.Fatalf("%s in %s: replayed another scope's key", tt.sub, tt.org.Slug())
			}
			must(t, pc.Commit(f.ctx, created))
		}
	}},
	{"RecordResponse", func(t *testing.T, f *fixture) {
		is := idem(t, f)
		now := f.now()
		bad := ports.StoredResponse{Status: 400, ContentType: "application/problem+json", Body: []byte(`{"code":"validation_failed"}`)}
		req := keyed("alice", "k1", "body", now, time.Hour)
		st, err := is.RecordResponse(f.ctx, req, "", bad)
		if err != nil || st != nil {
			t.Fatalf("first: %v, %v; want stored", st, err)
		}
		retry := keyed("alice", "k1", "body", now, time.Hour)
		st, err = is.RecordResponse(f.ctx, retry, "", ports.StoredResponse{Status: 400, Body: []byte("other")})
		if err != nil || st == nil || st.Status != 400 || string(st.Body) != string(bad.Body) || st.ContentType != bad.ContentType {
			t.Fatalf("retry: %+v, %v; want the first response", st, err)
		}
		// The same key binds no change either: the stored answer replays.
		o := f.org("acme", "Acme")
		change := keyed("alice", "k1", "body", now, time.Hour)
		if err := createRole(f, inOrg(f.ctx, change, ""), o, "editor"); !errors.Is(err, ports.ErrIdempotentReplay) {
			t.Fatalf("change after a recorded response: %v, want ErrIdempotentReplay", err)
		}
		other := keyed("alice", "k1", "different", now, time.Hour)
		if _, err := is.RecordResponse(f.ctx, other, "", bad); !errors.Is(err, ports.ErrIdempotencyKeyReused) {
			t.Fatalf("different fingerprint: %v, want ErrIdempotencyKeyReused", err)
		}
	}},
	{"ExpiredKeysAreGoneAndSwept", func(t *testing.T, f *fixture) {
		is := idem(t, f)
		o := f.org("acme", "Acme")
		now := f.now()
		req := keyed("alice", "k1", "body", now, time.Hour)
		must(t, createRole(f, inOrg(f.ctx, req, o.ID()), o, "editor"))
		must(t, req.TakePending().Commit(f.ctx, created))
		other := keyed("alice", "k2", "body", now, 3*time.Hour)
		_, err := is.RecordResponse(f.ctx, other, o.ID(), created)
		must(t, err)
		// After the TTL the key is free again, even before a sweep.
		later := keyed("alice", "k1", "body", now.Add(2*time.Hour), time.Hour)
		must(t, createRole(f, inOrg(f.ctx, later, o.ID()), o, "viewer"))
		must(t, later.TakePending().Commit(f.ctx, created))
		if !roleExists(f, o, "viewer") {
			t.Fatal("an expired key still answered")
		}
		n, err := is.SweepIdempotencyKeys(f.ctx, now.Add(2*time.Hour))
		if err != nil || n != 0 {
			t.Fatalf("sweep at +2h: %d, %v; want 0 (k1 was renewed, k2 lives until +3h)", n, err)
		}
		n, err = is.SweepIdempotencyKeys(f.ctx, now.Add(4*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("sweep at +4h: %d, %v; want 2", n, err)
		}
	}},
	{"LaterTransactionsJoinTheChange", func(t *testing.T, f *fixture) {
		idem(t, f)
		o := f.org("acme", "Acme")
		req := keyed("alice", "k1", "body", f.now(), time.Hour)
		ctx := inOrg(f.ctx, req, o.ID())
		must(t, createRole(f, ctx, o, "editor"))
		// A failing later transaction rolls back only itself.
		if err := createRole(f, ctx, o, "editor"); !errors.Is(err, domain.ErrRoleExists) {
			t.Fatalf("second create: %v, want ErrRoleExists", err)
		}
		must(t, createRole(f, ctx, o, "viewer"))
		must(t, req.TakePending().Rollback())
		if roleExists(f, o, "editor") || roleExists(f, o, "viewer") {
			t.Fatal("a later transaction committed apart from the change")
		}
	}},
	{"AsideFromChangeIsNotBound", func(t *testing.T, f *fixture) {
		idem(t, f)
		o := f.org("acme", "Acme")
		req := keyed("alice", "k1", "body", f.now(), time.Hour)
		ctx := inOrg(f.ctx, req, o.ID())
		must(t, createRole(f, ports.AsideFromChange(ctx), o, "provisioned"))
		if req.Pending() != nil || !roleExists(f, o, "provisioned") {
			t.Fatal("a transaction aside from the change was bound to the key")
		}
		must(t, createRole(f, ctx, o, "editor"))
		pc := req.TakePending()
		if pc == nil {
			t.Fatal("the change after it was not bound")
		}
		must(t, pc.Rollback())
	}},
	{"ConcurrentSameKeyRunsOnce", func(t *testing.T, f *fixture) {
		idem(t, f)
		o := f.org("acme", "Acme")
		now := f.now()
		first := keyed("alice", "k1", "body", now, time.Hour)
		must(t, createRole(f, inOrg(f.ctx, first, o.ID()), o, "editor"))
		// While the first is in flight, the second is refused at once
		// (PostgreSQL) or waits for it and replays it (SQLite).
		second := keyed("alice", "k1", "body", now, time.Hour)
		done := make(chan error, 1)
		go func() { done <- createRole(f, inOrg(f.ctx, second, o.ID()), o, "viewer") }()
		select {
		case err := <-done:
			if !errors.Is(err, ports.ErrIdempotencyKeyInFlight) {
				t.Fatalf("second while the first is in flight: %v, want ErrIdempotencyKeyInFlight (or a wait)", err)
			}
			must(t, first.TakePending().Commit(f.ctx, created))
		case <-time.After(200 * time.Millisecond):
			must(t, first.TakePending().Commit(f.ctx, created))
			if err := <-done; !errors.Is(err, ports.ErrIdempotentReplay) {
				t.Fatalf("second after waiting: %v, want ErrIdempotentReplay", err)
			}
		}
		if second.Pending() != nil || roleExists(f, o, "viewer") {
			t.Fatal("the second request ran its change")
		}
	}},
}
