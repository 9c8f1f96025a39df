package application_test

import (
	"context"
	"testing"

	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestTextRulesAtTheDrivingPorts: the use cases apply the text rules
// whatever adapter calls them. Text the rules refuse in a field is a
// validation error naming it; in a reference to an organization or a user
// it names nothing, so the answer is the one for anything unknown, and the
// store is never asked about it.
func TestTextRulesAtTheDrivingPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, application.Config{})
	ctx := context.Background()
	alice := principal("alice")
	o := e.createOrg(t, alice, "acme")
	bobID := e.addMember(t, o, principal("bob"), "member")

	for _, ref := range []string{"ac\x00me", "\xff", "ac\nme"} {
		_, err := e.app.Organizations.Get(ctx, alice, domain.ParseOrgRef(ref))
		checkErr(t, err, domain.ErrNotFound)
		_, err = e.app.Members.List(ctx, bound(alice, ref), domain.ParseOrgRef(""), ports.MemberQuery{})
		checkErr(t, err, domain.ErrNotFound)
	}
	for _, id := range []string{bobID + "\x00", "\xff", "a\x01"} {
		_, err := e.app.Members.Get(ctx, alice, domain.ParseOrgRef(o.ID()), id)
		checkErr(t, err, domain.ErrNotFound)
		_, err = e.app.Users.Get(ctx, alice, domain.ParseOrgRef(o.ID()), id)
		checkErr(t, err, domain.ErrNotFound)
		_, err = e.app.Members.Update(ctx, alice, domain.ParseOrgRef(o.ID()), id, domain.MembershipChanges{Status: strp("suspended")}, 0)
		checkErr(t, err, domain.ErrNotFound)
		checkErr(t, e.app.Members.Remove(ctx, alice, domain.ParseOrgRef(o.ID()), id, 0), domain.ErrNotFound)
	}

	_, err := e.app.Checks.Check(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CheckRequest{Subject: "bob\x00", Permission: "members:read"})
	checkInvalid(t, err, "subject")
	_, err = e.app.Checks.Check(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CheckRequest{Subject: "bob", Issuer: "iss\x01", Permission: "members:read"})
	checkInvalid(t, err, "issuer")
	_, err = e.app.Checks.Check(ctx, alice, domain.ParseOrgRef(o.ID()), ports.CheckRequest{UserID: bobID + "\x00", Permission: "members:read"})
	checkInvalid(t, err, "user_id")
	_, err = e.app.Checks.CheckBatch(ctx, alice, domain.ParseOrgRef(o.ID()), []ports.CheckRequest{{Subject: "\x7f", Permission: "members:read"}})
	checkInvalid(t, err, "checks/0/subject")
	_, err = e.app.Members.Add(ctx, alice, domain.ParseOrgRef(o.ID()), ports.AddMember{UserID: bobID + "\x00", Roles: []string{"member"}})
	checkInvalid(t, err, "user_id")
	_, err = e.app.Members.Add(ctx, alice, domain.ParseOrgRef(o.ID()), ports.AddMember{Subject: "carl", Name: "Carl\x00", Roles: []string{"member"}})
	checkInvalid(t, err, "name")

	_, err = e.app.Members.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.MemberQuery{Role: "own\x01er"})
	checkInvalid(t, err, "role")
	_, err = e.app.Users.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.UserQuery{Q: "a\x00"})
	checkInvalid(t, err, "q")
	_, err = e.app.Users.ListAll(ctx, platformAdmin(), ports.UserQuery{Email: "\xff"})
	checkInvalid(t, err, "email")
	_, err = e.app.Organizations.List(ctx, alice, ports.OrganizationQuery{Q: "\x00"})
	checkInvalid(t, err, "q")
	_, err = e.app.Roles.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.RoleQuery{Q: "\x00"})
	checkInvalid(t, err, "q")
	_, err = e.app.Permissions.List(ctx, alice, domain.ParseOrgRef(o.ID()), ports.PermissionQuery{Q: "\x00"})
	checkInvalid(t, err, "q")
}
