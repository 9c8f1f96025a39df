package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// The rules "a role members hold cannot be deleted" and "a permission a
// role grants by name cannot be deleted" read in one transaction and write
// in another. A foreign key cannot hold them (built-in roles and system
// permissions are not rows), so the store holds them with locks:
// GetManyForShare / ExistingForShare keep what an assignment or a grant
// names from being deleted until it commits, and a delete that reads
// through GetForUpdate waits for them and then sees what they wrote.
//
// Each race below runs two transactions in the order that breaks the rule
// without the locks: the first one takes its lock, then holds its
// transaction open until the second has finished or raceHold has passed.
// Without the locks the second one finishes meanwhile and a membership (or
// a grant) ends up naming a role (a permission) that no longer exists; with
// them it waits, and the outcome is consistent. SQLite serializes the two
// transactions whole (IMMEDIATE), which is consistent too.

// raceHold is how long the first transaction of a race stays open waiting
// for the second one to finish.
const raceHold = 400 * time.Millisecond

// errRoleGone and errPermGone stand for "the rule refused: not found".
var (
	errRoleGone = errors.New("role not found")
	errPermGone = errors.New("permission not found")
)

// race runs first in a transaction and, once first has called its lock
// function, second in another transaction; first's transaction stays open
// until second returns or raceHold has passed. It returns both errors.
func race(f *fixture, first func(ctx context.Context, r ports.Repositories, locked func()) error,
	second func(ctx context.Context, r ports.Repositories) error) (firstErr, secondErr error) {
	var (
		lockedOnce sync.Once
		lockedCh   = make(chan struct{})
		secondDone = make(chan struct{})
	)
	locked := func() { lockedOnce.Do(func() { close(lockedCh) }) }
	go func() {
		defer close(secondDone)
		<-lockedCh
		secondErr = f.s.RunInTx(f.ctx, second)
	}()
	firstErr = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
		return first(ctx, r, func() {
			locked()
			select {
			case <-secondDone:
			case <-time.After(raceHold):
			}
		})
	})
	locked() // in case first failed before locking
	<-secondDone
	return firstErr, secondErr
}

// assignRole is what adding a member with role key does: read the role
// FOR SHARE, then store the membership.
func assignRole(m *domain.Membership, key domain.RoleKey) func(ctx context.Context, r ports.Repositories, locked func()) error {
	return func(ctx context.Context, r ports.Repositories, locked func()) error {
		found, err := r.Roles().GetManyForShare(ctx, m.OrgID(), []domain.RoleKey{key})
		if err != nil {
			return err
		}
		locked()
		if len(found) == 0 {
			return errRoleGone
		}
		return r.Memberships().Create(ctx, m)
	}
}

// deleteRole is what deleting a role does: lock it, count its holders,
// delete it.
func deleteRole(orgID string, key domain.RoleKey) func(ctx context.Context, r ports.Repositories, locked func()) error {
	return func(ctx context.Context, r ports.Repositories, locked func()) error {
		if _, err := r.Roles().GetForUpdate(ctx, orgID, key); err != nil {
			return err
		}
		n, err := r.Memberships().CountWithRole(ctx, orgID, key)
		if err != nil {
			return err
		}
		if n > 0 {
			return domain.ErrRoleInUse
		}
		if err := r.Roles().Delete(ctx, orgID, key); err != nil {
			return err
		}
		locked()
		return nil
	}
}

// grantPermission is what creating a role that grants key does: read the
// permission FOR SHARE, then store the role.
func grantPermission(role *domain.Role, key domain.PermissionKey) func(ctx context.Context, r ports.Repositories, locked func()) error {
	return func(ctx context.Context, r ports.Repositories, locked func()) error {
		found, err := r.Permissions().ExistingForShare(ctx, role.OrgID(), []domain.PermissionKey{key})
		if err != nil {
			return err
		}
		locked()
		if len(found) == 0 {
			return errPermGone
		}
		return r.Roles().Create(ctx, role)
	}
}

// deletePermission is what deleting a permission does: lock it, count the
// roles granting it, delete it.
func deletePermission(orgID string, key domain.PermissionKey) func(ctx context.Context, r ports.Repositories, locked func()) error {
	return func(ctx context.Context, r ports.Repositories, locked func()) error {
		if _, err := r.Permissions().GetForUpdate(ctx, orgID, key); err != nil {
			return err
		}
		n, err := r.Roles().CountGranting(ctx, orgID, key)
		if err != nil {
			return err
		}
		if n > 0 {
			return domain.ErrPermissionInUse
		}
		if err := r.Permissions().Delete(ctx, orgID, key); err != nil {
			return err
		}
		locked()
		return nil
	}
}

func noLock(fn func(ctx context.Context, r ports.Repositories, locked func()) error) func(ctx context.Context, r ports.Repositories) error {
	return func(ctx context.Context, r ports.Repositories) error { return fn(ctx, r, func() {}) }
}

// noDanglingRole fails when a membership of the organization names a custom
// role that does not exist.
func noDanglingRole(t *testing.T, f *fixture, orgID, userID string) {
	t.Helper()
	m, err := f.s.Memberships().Get(f.ctx, orgID, userID)
	if errors.Is(err, domain.ErrNotFound) {
		return
	}
	must(t, err)
	for _, k := range m.Roles() {
		if domain.IsBuiltinRole(k) {
			continue
		}
		if _, err := f.s.Roles().Get(f.ctx, orgID, k); err != nil {
			t.Errorf("membership names role %q, which does not exist (%v)", k, err)
		}
	}
}

// noDanglingGrant fails when a role of the organization grants by name a
// custom permission that does not exist.
func noDanglingGrant(t *testing.T, f *fixture, orgID string, key domain.RoleKey) {
	t.Helper()
	role, err := f.s.Roles().Get(f.ctx, orgID, key)
	if errors.Is(err, domain.ErrNotFound) {
		return
	}
	must(t, err)
	for _, g := range role.Grants() {
		k, ok := g.Key()
		if !ok || k.IsSystem() {
			continue
		}
		if _, err := f.s.Permissions().Get(f.ctx, orgID, k); err != nil {
			t.Errorf("role %q grants %q, which does not exist (%v)", key, k, err)
		}
	}
}

var raceTests = []contract{
	{"DeleteRoleWhileAssigning", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "", "")
		f.role(o, "approver", "Approver")
		m, err := domain.NewMembership(o.ID(), u.ID(), []string{"member", "approver"}, f.now())
		must(t, err)
		assignErr, deleteErr := race(f, assignRole(m, "approver"), noLock(deleteRole(o.ID(), "approver")))
		noDanglingRole(t, f, o.ID(), u.ID())
		must(t, assignErr)
		wantErr(t, deleteErr, domain.ErrRoleInUse)
	}},
	{"AssignRoleWhileDeleting", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		u := f.user("alice", "", "")
		f.role(o, "approver", "Approver")
		m, err := domain.NewMembership(o.ID(), u.ID(), []string{"approver"}, f.now())
		must(t, err)
		deleteErr, assignErr := race(f, deleteRole(o.ID(), "approver"), noLock(assignRole(m, "approver")))
		noDanglingRole(t, f, o.ID(), u.ID())
		must(t, deleteErr)
		wantErr(t, assignErr, errRoleGone)
		// A role created later with the same key gives the member nothing.
		r, err := domain.NewRole(f.id(), o.ID(), "approver", "New approver", "", []string{"*"}, f.now())
		must(t, err)
		must(t, f.s.Roles().Create(f.ctx, r))
		if _, err := f.s.Memberships().Get(f.ctx, o.ID(), u.ID()); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("membership after a refused assignment: got %v, want not found", err)
		}
	}},
	{"DeletePermissionWhileGranting", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		p := f.perm(o, "invoices:approve", "")
		role, err := domain.NewRole(f.id(), o.ID(), "approver", "Approver", "", []string{"invoices:approve", "invoices:*"}, f.now())
		must(t, err)
		grantErr, deleteErr := race(f, grantPermission(role, p.Key()), noLock(deletePermission(o.ID(), p.Key())))
		noDanglingGrant(t, f, o.ID(), "approver")
		must(t, grantErr)
		wantErr(t, deleteErr, domain.ErrPermissionInUse)
	}},
	{"GrantPermissionWhileDeleting", func(t *testing.T, f *fixture) {
		o := f.org("acme-corp", "Acme")
		p := f.perm(o, "invoices:approve", "")
		role, err := domain.NewRole(f.id(), o.ID(), "approver", "Approver", "", []string{"invoices:approve"}, f.now())
		must(t, err)
		deleteErr, grantErr := race(f, deletePermission(o.ID(), p.Key()), noLock(grantPermission(role, p.Key())))
		noDanglingGrant(t, f, o.ID(), "approver")
		must(t, deleteErr)
		wantErr(t, grantErr, errPermGone)
	}},
	{"CreateUserIfAbsentConcurrently", func(t *testing.T, f *fixture) {
		// Two transactions provision the same identity at once: both
		// succeed, with one and the same user.
		const n = 4
		us := make([]*domain.User, n)
		for i := range us {
			u, err := domain.NewUser(f.id(), "https://issuer.test", "newbie", "n@example.test", "Newbie", f.now())
			must(t, err)
			us[i] = u
		}
		got := make([]*domain.User, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range us {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
					u, err := r.Users().CreateIfAbsent(ctx, us[i])
					got[i] = u
					return err
				})
			}()
		}
		wg.Wait()
		for i := range errs {
			must(t, errs[i])
			if got[i] == nil || got[i].ID() != got[0].ID() {
				t.Fatalf("provisioning %d: got user %v, want the same user as the first", i, got[i])
			}
		}
		stored, err := f.s.Users().GetByIdentity(f.ctx, "https://issuer.test", "newbie")
		must(t, err)
		sameUser(t, got[0], stored)
	}},
}
