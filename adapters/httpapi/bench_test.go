package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
)

// The hot paths through the real router, the real verifier, the real
// application and the real store, called in process (no network): what
// they cost the server in time and allocations per request. They need
// PostgreSQL (ORGSTACK_TEST_POSTGRES_URL), the store they are measured on:
//
//	ORGSTACK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./adapters/httpapi -run '^$' -bench . -benchmem
//
// The access log is on and JSON-encoded, as in production, into a
// discarding writer.

// benchEnv is the environment of the benchmarks: an organization of 100
// members (the caller, its owner, and 99 members), as the perf seed has.
type benchEnv struct {
	*env
	tok, org, target string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	return newBenchEnvOn(b, sqlstoretest.NewPostgres)
}

// newBenchEnvRLS is newBenchEnv on a store that connects as a role that
// owns nothing and is no superuser, so that row-level security applies to
// every statement (superusers skip the policies).
func newBenchEnvRLS(b *testing.B) *benchEnv {
	b.Helper()
	return newBenchEnvOn(b, func(t testing.TB) *sqlstore.Store { return sqlstoretest.NewPostgresRLS(t).Runtime })
}

func newBenchEnvOn(b *testing.B, open func(testing.TB) *sqlstore.Store) *benchEnv {
	b.Helper()
	if os.Getenv("ORGSTACK_TEST_POSTGRES_URL") == "" {
		b.Skip("ORGSTACK_TEST_POSTGRES_URL is not set: the hot-path benchmarks run on PostgreSQL")
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	e := newEnv(b, withStore(open), withLogger(log))
	be := &benchEnv{env: e, tok: e.token("bench-owner")}
	be.org = e.createOrg(b, be.tok, "bench")
	for i := range 99 {
		id := e.addMember(b, be.tok, be.org, fmt.Sprintf("bench-member-%02d", i), "member")
		if i == 49 {
			be.target = id
		}
	}
	return be
}

// serve runs one request through the handler and fails unless it answers
// want.
func (be *benchEnv) serve(b *testing.B, req *http.Request, body []byte, want int) {
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	w := httptest.NewRecorder()
	be.Handler.ServeHTTP(w, req)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL, w.Code, w.Body)
	}
}

// BenchmarkCheck is POST /api/v1/organizations/{orgId}/check answering
// whether another member may read members: the caller's token, its access
// and the subject's grants, one database round trip.
func BenchmarkCheck(b *testing.B) { benchCheck(b, newBenchEnv(b)) }

// BenchmarkCheckRLS is BenchmarkCheck under row-level security.
func BenchmarkCheckRLS(b *testing.B) { benchCheck(b, newBenchEnvRLS(b)) }

func benchCheck(b *testing.B, be *benchEnv) {
	body := []byte(`{"user_id":"` + be.target + `","permission":"members:read"}`)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/organizations/"+be.org+"/check", nil)
	req.Header.Set("Authorization", "Bearer "+be.tok)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		be.serve(b, req, body, http.StatusOK)
	}
}

// BenchmarkListMembers is GET /api/v1/organizations/{orgId}/members?size=50:
// a page of 50 members with their users and roles, and the totals.
func BenchmarkListMembers(b *testing.B) { benchListMembers(b, newBenchEnv(b)) }

// BenchmarkListMembersRLS is BenchmarkListMembers under row-level security.
func BenchmarkListMembersRLS(b *testing.B) { benchListMembers(b, newBenchEnvRLS(b)) }

func benchListMembers(b *testing.B, be *benchEnv) {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/organizations/"+be.org+"/members?size=50", nil)
	req.Header.Set("Authorization", "Bearer "+be.tok)
	b.ReportAllocs()
	for b.Loop() {
		be.serve(b, req, nil, http.StatusOK)
	}
}

// BenchmarkChangeMemberRoles is PATCH /api/v1/organizations/{orgId}/members/{userId}
// changing a member's roles (alternately adding and removing admin): one
// write transaction with its locks, version check and (from Stage 6) its
// audit event and outbox rows. It is the write whose cost the closing
// notes compare across versions.
func BenchmarkChangeMemberRoles(b *testing.B) {
	be := newBenchEnv(b)
	bodies := [][]byte{[]byte(`{"roles":["member","admin"]}`), []byte(`{"roles":["member"]}`)}
	req := httptest.NewRequest(http.MethodPatch, "/api/v1/organizations/"+be.org+"/members/"+be.target, nil)
	req.Header.Set("Authorization", "Bearer "+be.tok)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		be.serve(b, req, bodies[i%2], http.StatusOK)
		i++
	}
}

// BenchmarkCreatePermission is POST /api/v1/organizations/{orgId}/permissions
// creating a new permission each time, without and with an Idempotency-Key
// (a new key each time): the key's cost is its lock and lookup before the
// change and its insert in the change's transaction.
func BenchmarkCreatePermission(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		name := "without key"
		if keyed {
			name = "with key"
		}
		b.Run(name, func(b *testing.B) {
			be := newBenchEnv(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				body := []byte(fmt.Sprintf(`{"key":"bench:p%d","description":"benchmark"}`, i))
				req := httptest.NewRequest(http.MethodPost, "/api/v1/organizations/"+be.org+"/permissions", nil)
				req.Header.Set("Authorization", "Bearer "+be.tok)
				req.Header.Set("Content-Type", "application/json")
				if keyed {
					req.Header.Set(IdempotencyKeyHeader, fmt.Sprintf(`"bench-%d"`, i))
				}
				be.serve(b, req, body, http.StatusCreated)
			}
		})
	}
}
