package application

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Members = (*MemberService)(nil)

// MemberService implements ports.Members.
type MemberService struct {
	auth *authorizer
}

// List returns a page of the organization's members (members:read).
func (s *MemberService) List(ctx context.Context, p ports.Principal, org domain.OrgRef, q ports.MemberQuery) (ports.Page[ports.Member], error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermMembersRead, read)
	if err != nil {
		return ports.Page[ports.Member]{}, err
	}
	if err := ports.MemberList.Check(q.PageRequest, map[string]string{"role": q.Role, "status": q.Status, "q": q.Q}); err != nil {
		return ports.Page[ports.Member]{}, err
	}
	return s.auth.store.Memberships().List(ctx, ports.MemberFilter{
		OrgID: acc.org.ID(), Role: q.Role, Status: q.Status, Q: q.Q, PageRequest: normalizePage(q.PageRequest),
	})
}

// Get returns one member (members:read).
func (s *MemberService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef, userID string) (ports.Member, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermMembersRead, read)
	if err != nil {
		return ports.Member{}, err
	}
	return s.auth.store.Memberships().GetMember(ctx, acc.org.ID(), userKey(userID))
}

// Add makes a user a member (members:write): an existing user by ID, or an
// identity (subject, issuer defaulting to the caller's) that is provisioned
// when it was never seen. Every role must exist and be covered by the
// caller's grants; only owners add owners. Everything after the input
// checks runs in one transaction: the custom roles are read FOR SHARE (a
// concurrent delete of one either waits for the membership and finds the
// role in use, or wins and the role is not found here), and the new user is
// stored with the membership, so a refused add leaves no user behind.
func (s *MemberService) Add(ctx context.Context, p ports.Principal, org domain.OrgRef, in ports.AddMember) (ports.Member, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermMembersWrite, write)
	if err != nil {
		return ports.Member{}, err
	}
	orgID := acc.org.ID()
	if (in.UserID == "") == (in.Subject == "") {
		return ports.Member{}, domain.Invalid("user_id", "give exactly one of user_id and subject")
	}
	if !domain.IsKeyText(in.UserID) {
		return ports.Member{}, domain.Invalid("user_id", "must be valid UTF-8 without control characters")
	}
	now := az.clock.Now()
	m, err := domain.NewMembership(orgID, in.UserID, in.Roles, now)
	if err != nil {
		return ports.Member{}, err
	}
	var (
		user    *domain.User // the existing user, when named by ID
		newUser *domain.User // the identity to provision, when named by subject
	)
	if in.UserID != "" {
		user, err = az.store.Users().Get(ctx, in.UserID)
		if errors.Is(err, domain.ErrNotFound) {
			return ports.Member{}, domain.UnknownReference("user_id", "no user has this ID")
		}
		if err != nil {
			return ports.Member{}, err
		}
	} else {
		issuer := in.Issuer
		if issuer == "" {
			issuer = p.Issuer
		}
		if newUser, err = domain.NewUser(az.ids.NewID(), issuer, in.Subject, in.Email, in.Name, now); err != nil {
			return ports.Member{}, err
		}
		// Users of an organization's own provider belong to it alone.
		switch foreign, err := az.foreignIssuer(ctx, orgID, issuer); {
		case err != nil:
			return ports.Member{}, err
		case foreign:
			return ports.Member{}, errForeignIssuer("issuer")
		}
	}
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		roles, err := s.resolveRoles(ctx, r.Roles(), orgID, in.Roles)
		if err != nil {
			return err
		}
		if err := checkAssignable(acc, roles); err != nil {
			return err
		}
		if err := domain.CheckMembershipChange(nil, m, acc.isOwner(), 0); err != nil {
			return err
		}
		actor := actorOf(p, acc.user.ID())
		var events []change
		if newUser != nil {
			// The identity may exist already, or be created by a concurrent
			// first use: then that user is the one added.
			if user, err = r.Users().CreateIfAbsent(ctx, newUser); err != nil {
				return err
			}
			if user.ID() == newUser.ID() {
				events = append(events, change{actor, "", domain.ActionUserCreated, user.ID(), domain.Snapshot(userFields, userRecord(user), true)})
			}
		}
		// An erased user's tombstone never gets a membership again.
		if user.Status() == domain.UserErased {
			return domain.ErrUserErased
		}
		if m, err = domain.NewMembership(orgID, user.ID(), in.Roles, now); err != nil {
			return err
		}
		if err := r.Memberships().Create(ctx, m); err != nil {
			return err
		}
		events = append(events, change{actor, orgID, domain.ActionMemberAdded, user.ID(), domain.Snapshot(memberFields, memberRecord(m), true)})
		return az.record(ctx, r, events...)
	})
	if err != nil {
		return ports.Member{}, err
	}
	return ports.Member{Membership: m, User: user}, nil
}

// Update changes a member's roles or status (members:write), in one
// transaction that locks the organization's active owners and the
// membership, so the last-owner rule holds under concurrent requests.
// ifVersion, when non-zero, must be the current version, compared under
// that lock (domain.ErrVersionMismatch).
func (s *MemberService) Update(ctx context.Context, p ports.Principal, org domain.OrgRef, userID string, c domain.MembershipChanges, ifVersion int64) (ports.Member, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermMembersWrite, write)
	if err != nil {
		return ports.Member{}, err
	}
	orgID, userID := acc.org.ID(), userKey(userID)
	if c.Roles == nil && c.Status == nil {
		m, err := az.store.Memberships().GetMember(ctx, orgID, userID)
		if err == nil {
			err = checkVersion(ifVersion, m.Membership.Version())
		}
		return m, err
	}
	var out ports.Member
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		owners, m, err := lockForOwnerRule(ctx, r, orgID, userID)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, m.Version()); err != nil {
			return err
		}
		before := m.Clone()
		if err := m.Apply(c, az.clock.Now()); err != nil {
			return err
		}
		var roles []*domain.Role
		if c.Roles != nil {
			if roles, err = s.resolveRoles(ctx, r.Roles(), orgID, *c.Roles); err != nil {
				return err
			}
		} else if roles, err = s.resolveKeys(ctx, r.Roles(), orgID, m.Roles()); err != nil {
			return err
		}
		// What the member gains: roles it did not hold, or every role when
		// a suspended membership becomes active again.
		var gained []*domain.Role
		for _, role := range roles {
			if !before.HasRole(role.Key()) || (!before.IsActive() && m.IsActive()) {
				gained = append(gained, role)
			}
		}
		if !m.IsActive() {
			gained = nil
		}
		if err := checkAssignable(acc, gained); err != nil {
			return err
		}
		if err := domain.CheckMembershipChange(before, m, acc.isOwner(), len(owners)); err != nil {
			return err
		}
		if err := r.Memberships().Update(ctx, m); err != nil {
			return err
		}
		if out, err = r.Memberships().GetMember(ctx, orgID, userID); err != nil {
			return err
		}
		return az.record(ctx, r, change{actorOf(p, acc.user.ID()), orgID, memberAction(before, m), userID,
			domain.Diff(memberFields, memberRecord(before), memberRecord(m))})
	})
	if err != nil {
		return ports.Member{}, err
	}
	return out, nil
}

// Remove ends a membership (members:write), under the same locks, owner
// rules and version precondition as Update.
func (s *MemberService) Remove(ctx context.Context, p ports.Principal, org domain.OrgRef, userID string, ifVersion int64) error {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermMembersWrite, write)
	if err != nil {
		return err
	}
	orgID, userID := acc.org.ID(), userKey(userID)
	return az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		owners, m, err := lockForOwnerRule(ctx, r, orgID, userID)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, m.Version()); err != nil {
			return err
		}
		if err := domain.CheckMembershipChange(m, nil, acc.isOwner(), len(owners)); err != nil {
			return err
		}
		if err := r.Memberships().Delete(ctx, orgID, userID); err != nil {
			return err
		}
		return az.record(ctx, r, change{actorOf(p, acc.user.ID()), orgID, domain.ActionMemberRemoved, userID,
			domain.Snapshot(memberFields, memberRecord(m), false)})
	})
}

// lockForOwnerRule locks, in the one order every owner-rule transaction
// uses (the organization's active owners, then the membership), so that
// concurrent ones serialize without deadlocking. It returns the active
// owners and the membership.
func lockForOwnerRule(ctx context.Context, r ports.Repositories, orgID, userID string) ([]string, *domain.Membership, error) {
	owners, err := r.Memberships().LockActiveOwners(ctx, orgID)
	if err != nil {
		return nil, nil, err
	}
	m, err := r.Memberships().GetForUpdate(ctx, orgID, userID)
	if err != nil {
		return nil, nil, err
	}
	return owners, m, nil
}

// resolveRoles turns the role keys of a request into roles, built-in or
// custom roles of the organization. A key naming no role is a
// *domain.UnknownReferenceError on "roles/<index>". The keys must already be well-formed.
func (s *MemberService) resolveRoles(ctx context.Context, repo ports.RoleRepository, orgID string, keys []string) ([]*domain.Role, error) {
	rks := make([]domain.RoleKey, len(keys))
	for i, k := range keys {
		rks[i] = domain.RoleKey(k)
	}
	found, err := s.resolveKeys(ctx, repo, orgID, rks)
	if err != nil {
		return nil, err
	}
	var fe []domain.FieldError
	for i, k := range rks {
		if !slices.ContainsFunc(found, func(r *domain.Role) bool { return r.Key() == k }) {
			fe = append(fe, domain.FieldError{Field: "roles/" + strconv.Itoa(i), Detail: "no role has this key"})
		}
	}
	if len(fe) > 0 {
		return nil, &domain.UnknownReferenceError{Fields: fe}
	}
	return found, nil
}

// resolveKeys returns the roles among keys that exist, each once. The
// custom ones are read FOR SHARE: until the transaction ends none of them
// can be deleted (RoleService.Delete locks the role FOR UPDATE and then
// counts its holders), so a membership never names a deleted role.
func (s *MemberService) resolveKeys(ctx context.Context, repo ports.RoleRepository, orgID string, keys []domain.RoleKey) ([]*domain.Role, error) {
	var out []*domain.Role
	for _, k := range keys {
		if r, ok := domain.BuiltinRole(k); ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if ck := customKeys(keys); len(ck) > 0 {
		custom, err := repo.GetManyForShare(ctx, orgID, ck)
		if err != nil {
			return nil, err
		}
		for _, r := range custom {
			if r.OrgID() == orgID {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// checkAssignable refuses roles that give something the caller's grants do
// not cover (domain.ErrEscalation). Platform administrators may assign any.
func checkAssignable(acc *access, roles []*domain.Role) error {
	if acc.principal.PlatformAdmin {
		return nil
	}
	for _, r := range roles {
		if !acc.grants.CoversRole(r) {
			return domain.ErrEscalation
		}
	}
	return nil
}
