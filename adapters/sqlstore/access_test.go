package sqlstore_test

import (
	"context"
	"testing"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestPostgresCombinedCheckIsPrepared checks that AccessAndCheckFacts runs
// as one statement, prepared once per connection and reused.
func TestPostgresCombinedCheckIsPrepared(t *testing.T) {
	s := sqlstoretest.NewPostgres(t)
	ctx := context.Background()
	s.DB().SetMaxOpenConns(1) // so the check below sees the same connection
	tests := []struct {
		name string
		ref  domain.OrgRef
		who  ports.CheckSubject
	}{
		{"by id, user id", domain.OrgRefByID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), ports.CheckSubject{UserID: "u"}},
		{"by slug, identity", domain.ParseOrgRef("acme"), ports.CheckSubject{Issuer: "iss", Subject: "other"}},
	}
	for _, tt := range tests {
		for range 3 {
			if _, _, err := s.AccessAndCheckFacts(ctx, tt.ref, "iss", "sub", tt.who, domain.PermMembersRead); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
	}
	var n int
	err := s.DB().QueryRowContext(ctx,
		`SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%UNION ALL%FROM (SELECT 1 AS one) AS x%'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(tests) {
		t.Errorf("prepared combined statements: got %d, want %d", n, len(tests))
	}
}
