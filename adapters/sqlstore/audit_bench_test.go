package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// BenchmarkAuditEventCost measures what the audit event adds to one write
// on PostgreSQL: each iteration runs the same membership update twice,
// once alone and once with its audit event appended in the transaction,
// alternating so that both see the same load, and reports the mean time of
// each ("ns/write" and "ns/write+event"):
//
//	ORGSTACK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./adapters/sqlstore -run '^$' -bench AuditEventCost -benchtime 500x
func BenchmarkAuditEventCost(b *testing.B) {
	s := sqlstoretest.NewPostgres(b)
	ctx := context.Background()
	ids := system.UUIDv7{}
	now := time.Now()
	o, err := domain.NewOrganization(ids.NewID(), "bench", "Bench", nil, now)
	if err != nil {
		b.Fatal(err)
	}
	u, err := domain.NewUser(ids.NewID(), "https://issuer.test", "bench", "", "", now)
	if err != nil {
		b.Fatal(err)
	}
	m, err := domain.NewMembership(o.ID(), u.ID(), []string{"member"}, now)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Organizations().Create(ctx, o); err != nil {
		b.Fatal(err)
	}
	if err := s.Users().Create(ctx, u); err != nil {
		b.Fatal(err)
	}
	if err := s.Memberships().Create(ctx, m); err != nil {
		b.Fatal(err)
	}
	actor := domain.Actor{Kind: domain.ActorUser, Issuer: "https://issuer.test", Subject: "bench", UserID: u.ID()}
	roles := [][]string{{"admin"}, {"member"}}
	n := 0
	write := func(withEvent bool) time.Duration {
		start := time.Now()
		err := s.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
			cur, err := r.Memberships().GetForUpdate(ctx, o.ID(), u.ID())
			if err != nil {
				return err
			}
			before := cur.Roles()
			rs := roles[n%2]
			n++
			if err := cur.Apply(domain.MembershipChanges{Roles: &rs}, time.Now()); err != nil {
				return err
			}
			if err := r.Memberships().Update(ctx, cur); err != nil {
				return err
			}
			if !withEvent {
				return nil
			}
			e, err := domain.NewAuditEvent(ids.NewID(), time.Now(), actor, o.ID(), domain.ActionMemberRolesChanged, u.ID(),
				[]domain.FieldChange{{Field: "roles", Before: roleNames(before), After: rs}}, domain.RequestInfo{RequestID: fmt.Sprint(n)})
			if err != nil {
				return err
			}
			return r.AuditEvents().Append(ctx, e)
		})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var plain, audited time.Duration
	for b.Loop() {
		plain += write(false)
		audited += write(true)
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "ns/write")
	b.ReportMetric(float64(audited.Nanoseconds())/float64(b.N), "ns/write+event")
}

func roleNames(ks []domain.RoleKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return slices.Clip(out)
}
