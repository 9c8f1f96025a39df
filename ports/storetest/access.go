package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var accessTests = []contract{
	{"LoadAccess", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		u := f.user("alice", "alice@example.com", "Alice")
		stranger := f.user("bob", "", "")
		approver := f.role(o, "approver", "Approver", "invoices:approve", "bills:*")
		auditor := f.role(o, "auditor", "Auditor", "audit:read")
		f.role(o, "unused", "Unused", "*")
		f.role(other, "approver", "Other approver", "*")
		m := f.member(o, u, "member", "approver", "auditor", "deleted-role")
		f.member(other, stranger, "owner")

		for _, ref := range []domain.OrgRef{domain.OrgRefByID(o.ID()), domain.ParseOrgRef(string(o.Slug()))} {
			acc, err := f.s.LoadAccess(f.ctx, ref, u.Issuer(), u.Subject())
			must(t, err)
			sameOrg(t, acc.Org, o)
			sameUser(t, acc.User, u)
			sameMembership(t, acc.Membership, m)
			if len(acc.Roles) != 2 {
				t.Fatalf("custom roles: got %q, want approver and auditor", roleIDs(acc.Roles))
			}
			byKey := map[domain.RoleKey]*domain.Role{}
			for _, r := range acc.Roles {
				byKey[r.Key()] = r
			}
			sameRole(t, byKey["approver"], approver)
			sameRole(t, byKey["auditor"], auditor)
		}
	}},
	{"LoadAccessMissingParts", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		u := f.user("alice", "alice@example.com", "Alice")
		outsider := f.user("bob", "", "")
		f.member(other, u, "owner")
		f.member(o, outsider, "owner")

		tests := []struct {
			name              string
			ref               domain.OrgRef
			subject           string
			wantOrg, wantUser bool
			wantMember        bool
		}{
			{"no such organization", domain.OrgRefByID(f.id()), "alice", false, true, false},
			{"no such slug", domain.ParseOrgRef("missing"), "alice", false, true, false},
			{"no reference", domain.OrgRef{}, "alice", false, true, false},
			{"unknown identity", domain.OrgRefByID(o.ID()), "nobody", true, false, false},
			{"member of another organization only", domain.OrgRefByID(o.ID()), "alice", true, true, false},
			{"everything missing", domain.ParseOrgRef("missing"), "nobody", false, false, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				acc, err := f.s.LoadAccess(f.ctx, tt.ref, u.Issuer(), tt.subject)
				must(t, err)
				if (acc.Org != nil) != tt.wantOrg || (acc.User != nil) != tt.wantUser || (acc.Membership != nil) != tt.wantMember {
					t.Errorf("got org %v user %v membership %v, want %v %v %v",
						acc.Org != nil, acc.User != nil, acc.Membership != nil, tt.wantOrg, tt.wantUser, tt.wantMember)
				}
				if tt.wantOrg {
					sameOrg(t, acc.Org, o)
				}
				if len(acc.Roles) != 0 {
					t.Errorf("roles without membership: got %q", roleIDs(acc.Roles))
				}
			})
		}
	}},
	{"LoadAccessSuspended", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "", "")
		m := f.member(o, u, "admin")
		f.suspend(m)
		acc, err := f.s.LoadAccess(f.ctx, domain.OrgRefByID(o.ID()), u.Issuer(), u.Subject())
		must(t, err)
		sameMembership(t, acc.Membership, m)
		if acc.Membership.IsActive() {
			t.Errorf("suspended membership read as active")
		}
	}},
	{"CheckFacts", func(t *testing.T, f *fixture) {
		o, other := f.org("acme-corp", "Acme"), f.org("other", "Other")
		u := f.user("alice", "alice@example.com", "Alice")
		s := f.user("sam", "", "")
		outsider := f.user("bob", "", "")
		approver := f.role(o, "approver", "Approver", "invoices:approve", "bills:*")
		f.role(other, "approver", "Other", "*")
		f.perm(o, "invoices:approve", "")
		f.perm(other, "reports:read", "")
		m := f.member(o, u, "member", "approver")
		sm := f.member(o, s, "approver")
		f.suspend(sm)
		f.member(other, outsider, "owner", "approver")

		tests := []struct {
			name        string
			who         ports.CheckSubject
			perm        string
			wantDefined bool
			wantMember  *domain.Membership
			wantRoles   []string
		}{
			{"by user id, custom permission", ports.CheckSubject{UserID: u.ID()}, "invoices:approve", true, m, []string{"approver"}},
			{"by identity", ports.CheckSubject{Issuer: u.Issuer(), Subject: u.Subject()}, "invoices:approve", true, m, []string{"approver"}},
			{"system permission", ports.CheckSubject{UserID: u.ID()}, "members:read", true, m, []string{"approver"}},
			{"undefined permission", ports.CheckSubject{UserID: u.ID()}, "bills:pay", false, m, []string{"approver"}},
			{"another organization's permission", ports.CheckSubject{UserID: u.ID()}, "reports:read", false, m, []string{"approver"}},
			{"suspended member", ports.CheckSubject{UserID: s.ID()}, "invoices:approve", true, sm, []string{"approver"}},
			{"member elsewhere only", ports.CheckSubject{UserID: outsider.ID()}, "invoices:approve", true, nil, nil},
			{"unknown user id", ports.CheckSubject{UserID: "missing"}, "invoices:approve", true, nil, nil},
			{"unknown identity", ports.CheckSubject{Issuer: u.Issuer(), Subject: "nobody"}, "members:read", true, nil, nil},
			{"identity of another issuer", ports.CheckSubject{Issuer: "https://evil.test", Subject: u.Subject()}, "bills:pay", false, nil, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.s.CheckFacts(f.ctx, o.ID(), tt.who, pkey(t, tt.perm))
				must(t, err)
				if got.PermissionDefined != tt.wantDefined {
					t.Errorf("PermissionDefined: got %v, want %v", got.PermissionDefined, tt.wantDefined)
				}
				if tt.wantMember == nil {
					if got.Membership != nil {
						t.Errorf("membership: got %s/%s, want none", got.Membership.OrgID(), got.Membership.UserID())
					}
				} else {
					sameMembership(t, got.Membership, tt.wantMember)
				}
				wantStrings(t, "custom roles", roleIDs(got.Roles), tt.wantRoles)
				if len(got.Roles) == 1 {
					sameRole(t, got.Roles[0], approver)
				}
			})
		}
	}},
}

var errRollback = errors.New("roll back")

var txTests = []contract{
	{"Commit", func(t *testing.T, f *fixture) {
		o, err := domain.NewOrganization(f.id(), "acme-corp", "Acme", nil, f.now())
		must(t, err)
		u, err := domain.NewUser(f.id(), "https://issuer.test", "alice", "", "", f.now())
		must(t, err)
		m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner"}, f.now())
		must(t, err)
		must(t, f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.Organizations().Create(ctx, o); err != nil {
				return err
			}
			if err := r.Users().Create(ctx, u); err != nil {
				return err
			}
			return r.Memberships().Create(ctx, m)
		}))
		got, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID())
		must(t, err)
		sameMembership(t, got, m)
	}},
	{"Rollback", func(t *testing.T, f *fixture) {
		o, err := domain.NewOrganization(f.id(), "acme-corp", "Acme", nil, f.now())
		must(t, err)
		err = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.Organizations().Create(ctx, o); err != nil {
				return err
			}
			if _, err := r.Organizations().Get(ctx, o.ID()); err != nil {
				return err // visible inside the transaction
			}
			return errRollback
		})
		wantErr(t, err, errRollback)
		_, err = f.s.Organizations().Get(f.ctx, o.ID())
		wantErr(t, err, domain.ErrNotFound)
	}},
	{"RollbackAfterConflict", func(t *testing.T, f *fixture) {
		f.org("acme-corp", "Acme")
		u, err := domain.NewUser(f.id(), "https://issuer.test", "alice", "", "", f.now())
		must(t, err)
		dup, err := domain.NewOrganization(f.id(), "acme-corp", "Again", nil, f.now())
		must(t, err)
		err = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.Users().Create(ctx, u); err != nil {
				return err
			}
			return r.Organizations().Create(ctx, dup)
		})
		wantErr(t, err, domain.ErrSlugTaken)
		_, err = f.s.Users().Get(f.ctx, u.ID())
		wantErr(t, err, domain.ErrNotFound)
	}},
	{"Ping", func(t *testing.T, f *fixture) {
		must(t, f.s.Ping(f.ctx))
	}},
}
