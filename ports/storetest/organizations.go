package storetest

import (
	"context"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var organizationTests = []contract{
	{"CreateGet", func(t *testing.T, f *fixture) {
		want := f.org("acme-corp", "Acme Corp")
		got, err := f.s.Organizations().Get(f.ctx, want.ID())
		must(t, err)
		sameOrg(t, got, want)
		got, err = f.s.Organizations().GetByRef(f.ctx, domain.ParseOrgRef("acme-corp"))
		must(t, err)
		sameOrg(t, got, want)
		got, err = f.s.Organizations().GetByRef(f.ctx, domain.OrgRefByID(want.ID()))
		must(t, err)
		sameOrg(t, got, want)
	}},
	{"GetMissing", func(t *testing.T, f *fixture) {
		f.org("acme-corp", "Acme Corp")
		_, err := f.s.Organizations().Get(f.ctx, "00000000-0000-7000-8000-999999999999")
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Organizations().Get(f.ctx, "acme-corp") // a slug is not an ID
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Organizations().GetByRef(f.ctx, domain.ParseOrgRef("nope"))
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Organizations().GetByRef(f.ctx, domain.OrgRefByID("00000000-0000-7000-8000-999999999999"))
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Organizations().GetByRef(f.ctx, domain.OrgRef{})
		wantErr(t, err, domain.ErrNotFound)
	}},
	{"CreateDuplicateSlug", func(t *testing.T, f *fixture) {
		f.org("acme-corp", "Acme Corp")
		o, err := domain.NewOrganization(f.id(), "acme-corp", "Other", nil, f.now())
		must(t, err)
		wantErr(t, f.s.Organizations().Create(f.ctx, o), domain.ErrSlugTaken)
	}},
	{"SlugFreedByRenameAndDelete", func(t *testing.T, f *fixture) {
		// Slugs are unique across organizations, and only while an
		// organization holds one: a renamed or deleted organization's slug
		// can be taken again, and a refused rename keeps the slugs as they were.
		o := f.org("acme-corp", "Acme Corp")
		other := f.org("globex", "Globex")
		slug, prev := "acme-corp", other.Version()
		must(t, other.Apply(domain.OrganizationChanges{Slug: &slug}, f.now()))
		wantErr(t, f.s.Organizations().Update(f.ctx, other, prev), domain.ErrSlugTaken)
		got, err := f.s.Organizations().GetByRef(f.ctx, domain.ParseOrgRef("globex"))
		must(t, err)
		if got.ID() != other.ID() {
			t.Errorf("globex after a refused rename: got %s, want %s", got.ID(), other.ID())
		}
		renamed, prevO := "acme-renamed", o.Version()
		must(t, o.Apply(domain.OrganizationChanges{Slug: &renamed}, f.now()))
		must(t, f.s.Organizations().Update(f.ctx, o, prevO))
		again, err := domain.NewOrganization(f.id(), "acme-corp", "Acme Again", nil, f.now())
		must(t, err)
		must(t, f.s.Organizations().Create(f.ctx, again))
		must(t, f.s.Organizations().Delete(f.ctx, o.ID()))
		third, err := domain.NewOrganization(f.id(), "acme-renamed", "Third", nil, f.now())
		must(t, err)
		must(t, f.s.Organizations().Create(f.ctx, third))
		dup, err := domain.NewOrganization(f.id(), "acme-renamed", "Dup", nil, f.now())
		must(t, err)
		wantErr(t, f.s.Organizations().Create(f.ctx, dup), domain.ErrSlugTaken)
	}},
	{"Update", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme Corp")
		name, slug, status, color := "Acme Inc", "acme-inc", "suspended", "red"
		prev := o.Version()
		must(t, o.Apply(domain.OrganizationChanges{Name: &name, Slug: &slug, Status: &status,
			Metadata: map[string]*string{"color": &color, "tier": nil}}, f.now()))
		must(t, f.s.Organizations().Update(f.ctx, o, prev))
		got, err := f.s.Organizations().Get(f.ctx, o.ID())
		must(t, err)
		sameOrg(t, got, o)
		if _, err := f.s.Organizations().GetByRef(f.ctx, domain.ParseOrgRef("acme-corp")); !isNotFound(err) {
			t.Errorf("old slug: got %v, want not found", err)
		}
	}},
	{"UpdateVersionMismatch", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme Corp")
		stale, err := f.s.Organizations().Get(f.ctx, o.ID())
		must(t, err)
		name := "First"
		must(t, o.Apply(domain.OrganizationChanges{Name: &name}, f.now()))
		must(t, f.s.Organizations().Update(f.ctx, o, 1))
		name = "Second"
		must(t, stale.Apply(domain.OrganizationChanges{Name: &name}, f.now()))
		wantErr(t, f.s.Organizations().Update(f.ctx, stale, 1), domain.ErrVersionMismatch)
		got, err := f.s.Organizations().Get(f.ctx, o.ID())
		must(t, err)
		sameOrg(t, got, o)
	}},
	{"UpdateMissing", func(t *testing.T, f *fixture) {
		o, err := domain.NewOrganization(f.id(), "ghost", "Ghost", nil, f.now())
		must(t, err)
		wantErr(t, f.s.Organizations().Update(f.ctx, o, 1), domain.ErrNotFound)
	}},
	{"UpdateSlugTaken", func(t *testing.T, f *fixture) {
		f.org("acme-corp", "Acme Corp")
		o := f.org("globex", "Globex")
		slug := "acme-corp"
		must(t, o.Apply(domain.OrganizationChanges{Slug: &slug}, f.now()))
		wantErr(t, f.s.Organizations().Update(f.ctx, o, 1), domain.ErrSlugTaken)
	}},
	{"GetForUpdate", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme Corp")
		err := f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			got, err := r.Organizations().GetForUpdate(ctx, o.ID())
			if err != nil {
				return err
			}
			sameOrg(t, got, o)
			_, err = r.Organizations().GetForUpdate(ctx, "missing")
			wantErr(t, err, domain.ErrNotFound)
			return nil
		})
		must(t, err)
	}},
	{"DeleteMissing", func(t *testing.T, f *fixture) {
		wantErr(t, f.s.Organizations().Delete(f.ctx, "missing"), domain.ErrNotFound)
	}},
	{"DeleteCascades", func(t *testing.T, f *fixture) {
		gone, kept := f.org("gone", "Gone"), f.org("kept", "Kept")
		u := f.user("alice", "alice@example.com", "Alice")
		f.role(gone, "approver", "Approver", "invoices:approve")
		f.role(kept, "approver", "Approver", "invoices:approve")
		f.perm(gone, "invoices:approve", "Approve")
		f.perm(kept, "invoices:approve", "Approve")
		f.member(gone, u, "owner", "approver")
		keptM := f.member(kept, u, "member", "approver")

		must(t, f.s.Organizations().Delete(f.ctx, gone.ID()))

		_, err := f.s.Organizations().Get(f.ctx, gone.ID())
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Memberships().Get(f.ctx, gone.ID(), u.ID())
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Roles().Get(f.ctx, gone.ID(), "approver")
		wantErr(t, err, domain.ErrNotFound)
		_, err = f.s.Permissions().Get(f.ctx, gone.ID(), pkey(t, "invoices:approve"))
		wantErr(t, err, domain.ErrNotFound)
		n, err := f.s.Memberships().CountWithRole(f.ctx, gone.ID(), "approver")
		must(t, err)
		if n != 0 {
			t.Errorf("role holders after delete: got %d, want 0", n)
		}
		// Everything of the other organization, and the user, remain.
		_, err = f.s.Users().Get(f.ctx, u.ID())
		must(t, err)
		got, err := f.s.Memberships().Get(f.ctx, kept.ID(), u.ID())
		must(t, err)
		sameMembership(t, got, keptM)
		_, err = f.s.Roles().Get(f.ctx, kept.ID(), "approver")
		must(t, err)
		_, err = f.s.Permissions().Get(f.ctx, kept.ID(), pkey(t, "invoices:approve"))
		must(t, err)
		list, err := f.s.Memberships().ListForUser(f.ctx, u.ID())
		must(t, err)
		if len(list) != 1 || list[0].Membership.OrgID() != kept.ID() {
			t.Errorf("memberships of user after delete: got %d, want only %s", len(list), kept.ID())
		}
	}},
	{"ListFilters", func(t *testing.T, f *fixture) {
		acme := f.org("acme-corp", "Acme Corp")
		pct := f.org("percent", "100% Pure")
		und := f.org("under-score", "snake_case Ltd")
		sus := f.org("sleepy", "Sleepy Inc")
		plain := f.org("plain", "Plain 100 Pure snakeXcase")
		status := "suspended"
		must(t, sus.Apply(domain.OrganizationChanges{Status: &status}, f.now()))
		must(t, f.s.Organizations().Update(f.ctx, sus, 1))
		u := f.user("alice", "alice@example.com", "Alice")
		f.member(acme, u, "owner")
		f.member(pct, u, "member")
		f.suspend(f.member(und, u, "member"))

		tests := []struct {
			name string
			give ports.OrganizationFilter
			want []string
		}{
			{"all", ports.OrganizationFilter{}, ids(acme, pct, und, sus, plain)},
			{"q name case-insensitive", ports.OrganizationFilter{Q: "ACME"}, ids(acme)},
			{"q slug", ports.OrganizationFilter{Q: "der-sc"}, ids(und)},
			{"q percent literal", ports.OrganizationFilter{Q: "0%"}, ids(pct)},
			{"q underscore literal", ports.OrganizationFilter{Q: "e_c"}, ids(und)},
			{"q backslash literal", ports.OrganizationFilter{Q: `\`}, nil},
			{"status", ports.OrganizationFilter{Status: "suspended"}, ids(sus)},
			{"active member", ports.OrganizationFilter{MemberUserID: u.ID()}, ids(acme, pct)},
			{"ids", ports.OrganizationFilter{IDs: []string{plain.ID(), acme.ID(), "missing"}}, ids(acme, plain)},
			{"empty ids", ports.OrganizationFilter{IDs: []string{}}, nil},
			{"combined", ports.OrganizationFilter{MemberUserID: u.ID(), Q: "pure"}, ids(pct)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.give.PageRequest = pr(1, 100)
				got, err := f.s.Organizations().List(f.ctx, tt.give)
				must(t, err)
				wantStrings(t, "organizations", orgIDs(got.Items), tt.want)
				if got.Total != len(tt.want) {
					t.Errorf("total: got %d, want %d", got.Total, len(tt.want))
				}
			})
		}
	}},
	{"ListSort", func(t *testing.T, f *fixture) {
		b := f.org("bravo", "banana")
		a := f.org("alpha", "Apple")
		c := f.org("charlie", "cherry")
		d1 := f.org("delta-one", "Same")
		d2 := f.org("delta-two", "same")
		tests := []struct {
			name string
			give ports.PageRequest
			want []string
		}{
			{"name", pr(1, 10, "name"), ids(a, b, c, d1, d2)},
			{"name desc, id tie-break", pr(1, 10, "-name"), ids(d1, d2, c, b, a)},
			{"slug", pr(1, 10, "slug"), ids(a, b, c, d1, d2)},
			{"created_at desc", pr(1, 10, "-created_at"), ids(d2, d1, c, a, b)},
			{"status then name", pr(1, 10, "status", "-name"), ids(d1, d2, c, b, a)},
			{"updated_at", pr(1, 10, "updated_at"), ids(b, a, c, d1, d2)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.s.Organizations().List(f.ctx, ports.OrganizationFilter{PageRequest: tt.give})
				must(t, err)
				wantStrings(t, "organizations", orgIDs(got.Items), tt.want)
			})
		}
		_, err := f.s.Organizations().List(f.ctx, ports.OrganizationFilter{PageRequest: pr(1, 10, "id; DROP TABLE x")})
		if err == nil {
			t.Errorf("unknown sort field: got no error")
		}
	}},
	{"ListPages", func(t *testing.T, f *fixture) {
		var all []string
		for _, s := range []string{"org-a", "org-b", "org-c", "org-d", "org-e"} {
			all = append(all, f.org(s, s).ID())
		}
		tests := []struct {
			give ports.PageRequest
			want []string
		}{
			{pr(1, 2, "slug"), all[0:2]},
			{pr(2, 2, "slug"), all[2:4]},
			{pr(3, 2, "slug"), all[4:5]},
			{pr(4, 2, "slug"), nil},
			{pr(9, 100, "slug"), nil},
		}
		for _, tt := range tests {
			got, err := f.s.Organizations().List(f.ctx, ports.OrganizationFilter{PageRequest: tt.give})
			must(t, err)
			wantStrings(t, "page", orgIDs(got.Items), tt.want)
			if got.Total != 5 || got.Page != tt.give.Page || got.Size != tt.give.Size {
				t.Errorf("page %d: got total %d page %d size %d, want 5 %d %d",
					tt.give.Page, got.Total, got.Page, got.Size, tt.give.Page, tt.give.Size)
			}
		}
	}},
}

func isNotFound(err error) bool { return err != nil && domain.KindOf(err) == domain.KindNotFound }
