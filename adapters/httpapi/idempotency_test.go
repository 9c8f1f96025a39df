package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// idemKey returns the Idempotency-Key header value (an sf-string) of key.
func idemKey(key string) string { return `"` + key + `"` }

// wantReplay checks that replay repeats first exactly (status, Location,
// ETag, Content-Type, body) and carries Idempotent-Replayed: true, which
// first does not.
func wantReplay(t *testing.T, first *http.Response, firstBody []byte, replay *http.Response, replayBody []byte) {
	t.Helper()
	if first.Header.Get(IdempotentReplayedHeader) != "" {
		t.Errorf("first response carries %s", IdempotentReplayedHeader)
	}
	if got := replay.Header.Get(IdempotentReplayedHeader); got != "true" {
		t.Errorf("%s: %q, want true", IdempotentReplayedHeader, got)
	}
	if replay.StatusCode != first.StatusCode {
		t.Errorf("status %d, want %d", replay.StatusCode, first.StatusCode)
	}
	for _, h := range []string{"Location", "ETag", "Content-Type"} {
		if got, want := replay.Header.Get(h), first.Header.Get(h); got != want {
			t.Errorf("%s %q, want %q", h, got, want)
		}
	}
	if !bytes.Equal(replayBody, firstBody) {
		t.Errorf("body\n%s\nwant\n%s", replayBody, firstBody)
	}
}

// countRoles returns how many custom roles orgID has.
func countRoles(t *testing.T, e *env, tok, orgID string) int {
	t.Helper()
	res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/roles?size=100", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	n := 0
	for _, it := range listData(t, body) {
		if m, _ := it.(obj); m["builtin"] != true {
			n++
		}
	}
	return n
}

// idemStores runs f on SQLite and, when configured, on PostgreSQL.
func idemStores(t *testing.T, f func(t *testing.T, open func(testing.TB) *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); f(t, sqlstoretest.NewSQLite) })
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		sqlstoretest.PostgresSchemaURL(t) // skips without PostgreSQL
		f(t, sqlstoretest.NewPostgres)
	})
}

// TestIdempotencyReplay: every POST that changes state, sent twice with one
// key, changes once; the retry answers the first response exactly, with
// Idempotent-Replayed: true.
func TestIdempotencyReplay(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := newEnv(t, withStore(open))
		tok := e.token("alice")
		org := e.createOrg(t, tok, "acme")
		bound := e.token("alice", withOrg(org))
		tests := []struct {
			name, path, tok string
			body            obj
			count           func() int
		}{
			{"organization", "/api/v1/organizations", tok, obj{"slug": "globex", "name": "Globex"}, func() int {
				res, body := e.do(t, http.MethodGet, "/api/v1/organizations", tok, nil)
				wantStatus(t, res, body, http.StatusOK)
				return len(listData(t, body))
			}},
			{"role", "/api/v1/organizations/" + org + "/roles", tok, obj{"key": "editor", "name": "Editor"},
				func() int { return countRoles(t, e, tok, org) }},
			{"role, token form", "/api/v1/roles", bound, obj{"key": "viewer", "name": "Viewer"},
				func() int { return countRoles(t, e, tok, org) }},
			{"permission", "/api/v1/organizations/" + org + "/permissions", tok, obj{"key": "docs:read"}, func() int {
				res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+org+"/permissions?size=100", tok, nil)
				wantStatus(t, res, body, http.StatusOK)
				return len(listData(t, body))
			}},
			{"member", "/api/v1/organizations/" + org + "/members", tok, obj{"subject": "bob", "roles": []string{"member"}}, func() int {
				res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+org+"/members", tok, nil)
				wantStatus(t, res, body, http.StatusOK)
				return len(listData(t, body))
			}},
		}
		for i, tt := range tests {
			before := tt.count()
			key := idemKey(fmt.Sprintf("replay-%d", i))
			first, firstBody := e.do(t, http.MethodPost, tt.path, tt.tok, tt.body, IdempotencyKeyHeader, key)
			wantStatus(t, first, firstBody, http.StatusCreated)
			replay, replayBody := e.do(t, http.MethodPost, tt.path, tt.tok, tt.body, IdempotencyKeyHeader, key)
			wantReplay(t, first, firstBody, replay, replayBody)
			if got := tt.count(); got != before+1 {
				t.Errorf("%s: %d items after two keyed POSTs, want %d", tt.name, got, before+1)
			}
		}
		// Without a key the POST is not idempotent: the retry conflicts.
		res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+org+"/roles", tok, obj{"key": "editor", "name": "Editor"})
		wantProblem(t, res, body, http.StatusConflict, "role_exists")
	})
}

// TestIdempotencySecretAnswers: creating a webhook and rotating its secret
// answer a secret; a retry gets the same answer, secret included, and the
// kept answer holds no secret in clear.
func TestIdempotencySecretAnswers(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := newEnv(t, withStore(open))
		tok := e.token("alice")
		org := e.createOrg(t, tok, "acme")
		base := "/api/v1/organizations/" + org + "/webhooks"
		spec := obj{"url": "https://hooks.example.test/in", "event_types": []string{"member.*"}}
		first, firstBody := e.do(t, http.MethodPost, base, tok, spec, IdempotencyKeyHeader, idemKey("hook"))
		wantStatus(t, first, firstBody, http.StatusCreated)
		replay, replayBody := e.do(t, http.MethodPost, base, tok, spec, IdempotencyKeyHeader, idemKey("hook"))
		wantReplay(t, first, firstBody, replay, replayBody)
		hook := data(t, firstBody)
		rot, rotBody := e.do(t, http.MethodPost, base+"/"+hook["id"].(string)+"/rotate-secret", tok, nil, IdempotencyKeyHeader, idemKey("rotate"))
		wantStatus(t, rot, rotBody, http.StatusOK)
		again, againBody := e.do(t, http.MethodPost, base+"/"+hook["id"].(string)+"/rotate-secret", tok, nil, IdempotencyKeyHeader, idemKey("rotate"))
		wantReplay(t, rot, rotBody, again, againBody)
		secrets := []string{hook["secret"].(string), data(t, rotBody)["secret"].(string)}
		if !strings.HasPrefix(secrets[0], "whsec_") || !strings.HasPrefix(secrets[1], "whsec_") || secrets[0] == secrets[1] {
			t.Fatalf("secrets %q", secrets)
		}
		var bodies [][]byte
		if err := e.Store.DB().NewRaw("SELECT body FROM idempotency_keys").Scan(context.Background(), &bodies); err != nil {
			t.Fatal(err)
		}
		if len(bodies) < 2 {
			t.Fatalf("%d kept answers, want 2", len(bodies))
		}
		for _, b := range bodies {
			for _, sec := range secrets {
				if bytes.Contains(b, []byte(sec)) || bytes.Contains(b, []byte(strings.TrimPrefix(sec, "whsec_"))) {
					t.Errorf("a kept answer holds a secret in clear: %.80s…", b)
				}
			}
		}
	})
}

// TestIdempotencyKeyReused: the same key with another body or path is 422
// idempotency_key_reused, and changes nothing.
func TestIdempotencyKeyReused(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := newEnv(t, withStore(open))
		tok := e.token("alice")
		org := e.createOrg(t, tok, "acme")
		path := "/api/v1/organizations/" + org + "/roles"
		key := idemKey("reused")
		res, body := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantStatus(t, res, body, http.StatusCreated)
		res, body = e.do(t, http.MethodPost, path, tok, obj{"key": "viewer", "name": "Viewer"}, IdempotencyKeyHeader, key)
		p := wantProblem(t, res, body, http.StatusUnprocessableEntity, "idempotency_key_reused")
		if f := problemFields(p); len(f) != 1 || f[0] != IdempotencyKeyHeader {
			t.Errorf("errors name %v, want [%s]", f, IdempotencyKeyHeader)
		}
		if res.Header.Get(IdempotentReplayedHeader) != "" {
			t.Error("a 422 for a reused key says it is a replay")
		}
		// Another path of the same route and organization: the slug form.
		res, body = e.do(t, http.MethodPost, "/api/v1/organizations/acme/roles", tok, obj{"key": "editor", "name": "Editor"},
			IdempotencyKeyHeader, key)
		wantProblem(t, res, body, http.StatusUnprocessableEntity, "idempotency_key_reused")
		if n := countRoles(t, e, tok, org); n != 1 {
			t.Errorf("%d custom roles, want 1", n)
		}
	})
}

// TestIdempotencyClientErrorsStored: a 4xx is kept and replayed, whether the
// change failed (409) or the request was refused before any change (400);
// the replay holds even after the cause went away.
func TestIdempotencyClientErrorsStored(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := newEnv(t, withStore(open))
		tok := e.token("alice")
		org := e.createOrg(t, tok, "acme")
		path := "/api/v1/organizations/" + org + "/roles"
		res, body := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"})
		wantStatus(t, res, body, http.StatusCreated)

		key := idemKey("conflict")
		first, firstBody := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantProblem(t, first, firstBody, http.StatusConflict, "role_exists")
		res, body = e.do(t, http.MethodDelete, path+"/editor", tok, nil)
		wantStatus(t, res, body, http.StatusNoContent)
		replay, replayBody := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantReplay(t, first, firstBody, replay, replayBody)
		if n := countRoles(t, e, tok, org); n != 0 {
			t.Errorf("%d custom roles after a replayed 409, want 0", n)
		}

		key = idemKey("invalid")
		first, firstBody = e.do(t, http.MethodPost, path, tok, obj{"key": "Not A Key", "name": "X"}, IdempotencyKeyHeader, key)
		wantProblem(t, first, firstBody, http.StatusBadRequest, "validation_failed")
		replay, replayBody = e.do(t, http.MethodPost, path, tok, obj{"key": "Not A Key", "name": "X"}, IdempotencyKeyHeader, key)
		wantReplay(t, first, firstBody, replay, replayBody)

		// 401 is never kept: the same key works once the token does.
		key = idemKey("unauthenticated")
		res, body = e.do(t, http.MethodPost, path, "", obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
		res, body = e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantStatus(t, res, body, http.StatusCreated)
		if res.Header.Get(IdempotentReplayedHeader) != "" {
			t.Error("a 401 was kept and replayed")
		}
	})
}

// TestIdempotencyScopes: the same key from another subject, in another
// organization, or on another route runs on its own.
func TestIdempotencyScopes(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		e := newEnv(t, withStore(open))
		alice, bob := e.token("alice"), e.token("bob")
		acme := e.createOrg(t, alice, "acme")
		globex := e.createOrg(t, alice, "globex")
		e.addMember(t, alice, acme, "bob", "admin")
		key := idemKey("shared-key")
		for _, tt := range []struct {
			name, tok, org, role string
		}{
			{"alice in acme", alice, acme, "r1"},
			{"bob in acme", bob, acme, "r2"},
			{"alice in globex", alice, globex, "r3"},
		} {
			res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+tt.org+"/roles", tt.tok,
				obj{"key": tt.role, "name": "R"}, IdempotencyKeyHeader, key)
			wantStatus(t, res, body, http.StatusCreated)
			if res.Header.Get(IdempotentReplayedHeader) != "" {
				t.Errorf("%s: replayed another scope's response", tt.name)
			}
		}
		res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+acme+"/permissions", alice,
			obj{"key": "docs:read"}, IdempotencyKeyHeader, key)
		wantStatus(t, res, body, http.StatusCreated)
		if res.Header.Get(IdempotentReplayedHeader) != "" {
			t.Error("another route replayed the roles route's response")
		}
	})
}

// TestIdempotencyKeyHeaderValidation: a malformed Idempotency-Key is 400
// invalid_parameter naming the header, and changes nothing; routes that
// change nothing (checks, dry runs) ignore the header.
func TestIdempotencyKeyHeaderValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.token("alice")
	org := e.createOrg(t, tok, "acme")
	path := "/api/v1/organizations/" + org + "/roles"
	tests := []struct {
		name string
		give []string
	}{
		{"empty string", []string{`""`}},
		{"empty field", []string{``}},
		{"unquoted token", []string{`abc-123`}},
		{"unterminated", []string{`"abc`}},
		{"trailing data", []string{`"abc" x`}},
		{"parameters", []string{`"abc";a=1`}},
		{"control character", []string{"\"a\tb\""}},
		{"non-ASCII", []string{`"clé"`}},
		{"bad escape", []string{`"a\nb"`}},
		{"too long", []string{`"` + strings.Repeat("k", maxIdempotencyKey+1) + `"`}},
		{"twice", []string{`"a"`, `"b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hs []string
			for _, v := range tt.give {
				hs = append(hs, IdempotencyKeyHeader, v)
			}
			res, body := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, hs...)
			p := wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
			if f := problemFields(p); len(f) != 1 || f[0] != IdempotencyKeyHeader {
				t.Errorf("errors name %v, want [%s]", f, IdempotencyKeyHeader)
			}
		})
	}
	if n := countRoles(t, e, tok, org); n != 0 {
		t.Errorf("%d roles created by refused requests", n)
	}
	for _, good := range []string{`"a"`, ` "with \"quote\" and \\ backslash" `, `"` + strings.Repeat("k", maxIdempotencyKey) + `"`} {
		res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+org+"/permissions", tok,
			obj{"key": fmt.Sprintf("p%d:read", len(good))}, IdempotencyKeyHeader, good)
		wantStatus(t, res, body, http.StatusCreated)
	}
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+org+"/check", tok,
		obj{"subject": "alice", "permission": "roles:read"}, IdempotencyKeyHeader, "not an sf-string")
	wantStatus(t, res, body, http.StatusOK)
}

// TestIdempotencyCrashBeforeCommit: a request that dies between its change
// and the commit (the client goes away; the database connection is killed)
// leaves neither the change nor the key: the retry runs afresh.
func TestIdempotencyCrashBeforeCommit(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		var (
			mu     sync.Mutex
			cancel context.CancelFunc
			crash  func(*http.Request)
		)
		e := newEnv(t, withStore(open),
			withWrap(func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx, c := context.WithCancel(r.Context())
					defer c()
					mu.Lock()
					cancel = c
					mu.Unlock()
					h.ServeHTTP(w, r.WithContext(ctx))
				})
			}),
			withOptions(func(o *Options) {
				o.beforeCommit = func(r *http.Request) {
					mu.Lock()
					f := crash
					mu.Unlock()
					if f != nil {
						f(r)
					}
				}
			}))
		tok := e.token("alice")
		org := e.createOrg(t, tok, "acme")
		path := "/api/v1/organizations/" + org + "/roles"

		crashes := map[string]func(*http.Request){
			"client gone": func(*http.Request) {
				mu.Lock()
				defer mu.Unlock()
				cancel()
			},
		}
		if e.Store.Dialect() == sqlstore.Postgres {
			crashes["connection killed"] = func(r *http.Request) {
				// The backend holding the open change: idle in its
				// transaction, holding the key's advisory lock.
				ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
				defer stop()
				var n int
				if err := e.Store.DB().NewRaw(`SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a
WHERE a.state = 'idle in transaction' AND a.datname = current_database() AND a.pid <> pg_backend_pid()
  AND a.pid IN (SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted)`).Scan(ctx, &n); err != nil || n != 1 {
					t.Errorf("terminate the change's backend: %d, %v", n, err)
				}
			}
		}
		for name, f := range crashes {
			role := "crash-" + strings.ReplaceAll(name, " ", "-")
			key := idemKey("crash " + name)
			mu.Lock()
			crash = f
			mu.Unlock()
			res, body := e.do(t, http.MethodPost, path, tok, obj{"key": role, "name": "R"}, IdempotencyKeyHeader, key)
			mu.Lock()
			crash = nil
			mu.Unlock()
			if res.StatusCode < 500 {
				t.Errorf("%s: status %d after the crash, want a 5xx: %s", name, res.StatusCode, body)
			}
			res, body = e.do(t, http.MethodGet, path+"/"+role, tok, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
			res, body = e.do(t, http.MethodPost, path, tok, obj{"key": role, "name": "R"}, IdempotencyKeyHeader, key)
			wantStatus(t, res, body, http.StatusCreated)
			if res.Header.Get(IdempotentReplayedHeader) != "" {
				t.Errorf("%s: the retry was replayed: a key survived its crashed change", name)
			}
		}
	})
}

// TestIdempotencyServerErrorNotStored: a 5xx (the database is down) keeps
// nothing; the retry with the key succeeds once the database is back.
func TestIdempotencyServerErrorNotStored(t *testing.T) {
	schemaURL := sqlstoretest.PostgresSchemaURL(t)
	sqlstoretest.Open(t, schemaURL)
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlstore.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e := newEnv(t, withStore(func(testing.TB) *sqlstore.Store { return store }))
	tok := e.token("alice")
	org := e.createOrg(t, tok, "acme")
	path := "/api/v1/organizations/" + org + "/roles"
	key := idemKey("outage")

	proxy.down()
	res, body := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
	wantUnavailable(t, res, body)
	proxy.up(t)
	waitStatus(t, e, "/api/v1/organizations/"+org, tok, http.StatusOK, 10*time.Second)
	res, body = e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
	wantStatus(t, res, body, http.StatusCreated)
	if res.Header.Get(IdempotentReplayedHeader) != "" {
		t.Error("the 503 was kept and replayed")
	}
}

// TestIdempotencyConcurrentSameKey: many requests with one key at once
// change once; each of the others answers 409 idempotency_key_in_flight or
// replays the one that ran, never runs the change again (a second change
// would answer 409 role_exists here, or 201 unreplayed).
func TestIdempotencyConcurrentSameKey(t *testing.T) {
	stores := map[string]func(testing.TB) *sqlstore.Store{"sqlite-file": sqlstoretest.NewSQLiteFile}
	if os.Getenv(sqlstoretest.PostgresURLEnv) != "" {
		stores["postgres"] = sqlstoretest.NewPostgres
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withStore(open))
			tok := e.token("alice")
			org := e.createOrg(t, tok, "acme")
			path := "/api/v1/organizations/" + org + "/roles"
			const rounds, n = 5, 8
			var ran, replayed, inFlight atomic.Int32
			for round := range rounds {
				key := idemKey(fmt.Sprintf("race-%d", round))
				body := obj{"key": fmt.Sprintf("race-%d", round), "name": "R"}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						res, b := e.do(t, http.MethodPost, path, tok, body, IdempotencyKeyHeader, key)
						switch {
						case res.StatusCode == http.StatusCreated && res.Header.Get(IdempotentReplayedHeader) == "true":
							replayed.Add(1)
						case res.StatusCode == http.StatusCreated:
							ran.Add(1)
						case res.StatusCode == http.StatusConflict && strings.Contains(string(b), `"idempotency_key_in_flight"`):
							inFlight.Add(1)
						default:
							t.Errorf("status %d: %s", res.StatusCode, b)
						}
					}()
				}
				close(start)
				wg.Wait()
			}
			t.Logf("%d rounds of %d: %d ran, %d replayed, %d in flight", rounds, n, ran.Load(), replayed.Load(), inFlight.Load())
			if ran.Load() != rounds {
				t.Errorf("%d requests ran their change, want one per round (%d)", ran.Load(), rounds)
			}
			if c := countRoles(t, e, tok, org); c != rounds {
				t.Errorf("%d roles, want %d", c, rounds)
			}
		})
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestIdempotencyExpiryAndSweep: a key answers until its TTL has passed;
// then the sweep deletes it and the same key runs afresh.
func TestIdempotencyExpiryAndSweep(t *testing.T) {
	idemStores(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		clock := &testClock{now: time.Now()}
		e := newEnv(t, withStore(open), withOptions(func(o *Options) {
			o.Idempotency.TTL, o.Idempotency.Clock = time.Hour, clock
		}))
		tok := e.token("alice")
		org := e.createOrg(t, tok, "acme")
		path := "/api/v1/organizations/" + org + "/roles"
		key := idemKey("expiring")
		keys := func() int {
			var n int
			scanAll(t, e.Store, "SELECT count(*) FROM idempotency_keys", nil, &n)
			return n
		}
		first, firstBody := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantStatus(t, first, firstBody, http.StatusCreated)
		clock.advance(59 * time.Minute)
		replay, replayBody := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantReplay(t, first, firstBody, replay, replayBody)
		if n, err := e.Store.SweepIdempotencyKeys(context.Background(), clock.Now()); err != nil || n != 0 {
			t.Fatalf("sweep before the TTL: %d, %v; want 0", n, err)
		}
		clock.advance(2 * time.Minute)
		if n, err := e.Store.SweepIdempotencyKeys(context.Background(), clock.Now()); err != nil || n != 1 {
			t.Fatalf("sweep after the TTL: %d, %v; want 1", n, err)
		}
		if n := keys(); n != 0 {
			t.Fatalf("%d keys left after the sweep", n)
		}
		res, body := e.do(t, http.MethodPost, path, tok, obj{"key": "editor", "name": "Editor"}, IdempotencyKeyHeader, key)
		wantProblem(t, res, body, http.StatusConflict, "role_exists") // ran again: the role exists
		if res.Header.Get(IdempotentReplayedHeader) != "" {
			t.Error("a swept key still answered")
		}
	})
}

// TestIdempotencyJustInTimeMembership: the first request of a user of an
// organization's own provider, sent with a key, provisions the membership
// on its own (never bound to the key) and binds the change it asked for.
func TestIdempotencyJustInTimeMembership(t *testing.T) {
	t.Parallel()
	pe := newProviderEnv(t)
	tok := pe.providerToken("carol", "admins")
	key := idemKey("jit")
	first, firstBody := pe.do(t, http.MethodPost, "/api/v1/roles", tok, obj{"key": "jit-role", "name": "R"}, IdempotencyKeyHeader, key)
	wantStatus(t, first, firstBody, http.StatusCreated)
	if r, st := pe.roles(t, "carol"); len(r) != 1 || r[0] != "admin" || st != "active" {
		t.Fatalf("membership after the first keyed request: %v %s", r, st)
	}
	replay, replayBody := pe.do(t, http.MethodPost, "/api/v1/roles", tok, obj{"key": "jit-role", "name": "R"}, IdempotencyKeyHeader, key)
	wantReplay(t, first, firstBody, replay, replayBody)
	if n := countRoles(t, pe.env, pe.owner, pe.orgA); n != 2 { // auditor and jit-role
		t.Errorf("%d custom roles, want 2", n)
	}
}

// TestIdempotencyDocumentedOnEveryChangingPOST keeps the document and the
// router in step both ways: every POST operation that documents the
// Idempotency-Key parameter reads the header (a malformed one is 400
// naming it), and every other POST ignores it. The operations that
// document it are exactly the POSTs that create something (201).
func TestIdempotencyDocumentedOnEveryChangingPOST(t *testing.T) {
	s := mustSpec(t)
	e := newEnv(t)
	tok := e.token("alice", withAdmin())
	org := e.createOrg(t, tok, "acme")
	n := 0
	for path, item := range s.doc.Paths.Map() {
		op := item.Post
		if op == nil {
			continue
		}
		documented := false
		for _, p := range op.Parameters {
			if p.Value != nil && p.Value.In == "header" && p.Value.Name == IdempotencyKeyHeader {
				documented = true
			}
		}
		// Every POST changes state except the checks and the dry runs.
		changes := !strings.HasSuffix(path, "/check") && !strings.HasSuffix(path, "/identity-provider/test") &&
			path != "/api/v1/admin/token-check"
		if changes != documented {
			t.Errorf("POST %s: changes state %v, documents %s %v", path, changes, IdempotencyKeyHeader, documented)
		}
		// The key is read before the handler: a token-form route needs no
		// organization in the token to show it.
		res, body := e.do(t, http.MethodPost, strings.ReplaceAll(path, "{orgId}", org), tok, obj{},
			IdempotencyKeyHeader, "not-quoted")
		checkKeyRead(t, path, documented, res, body)
		n++
	}
	if n < 7 {
		t.Errorf("checked %d POST operations, want every one (at least 7)", n)
	}
}

// checkKeyRead fails unless a malformed Idempotency-Key was refused exactly
// when the operation documents the header.
func checkKeyRead(t *testing.T, path string, documented bool, res *http.Response, body []byte) {
	t.Helper()
	refused := false
	if res.StatusCode == http.StatusBadRequest {
		p := decodeJSONBody[obj](t, body)
		for _, f := range problemFields(p) {
			if f == IdempotencyKeyHeader {
				refused = true
			}
		}
	}
	if refused != documented {
		t.Errorf("POST %s: documents %s %v, but the server refused a malformed one: %v (%d %s)",
			path, IdempotencyKeyHeader, documented, refused, res.StatusCode, body)
	}
}
