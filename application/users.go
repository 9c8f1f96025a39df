package application

import (
	"cmp"
	"context"
	"slices"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Users = (*UserService)(nil)

// UserService implements ports.Users.
type UserService struct {
	auth *authorizer
}

// List returns the profiles of the organization's members (members:read).
func (s *UserService) List(ctx context.Context, p ports.Principal, org domain.OrgRef, q ports.UserQuery) (ports.Page[*domain.User], error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermMembersRead, read)
	if err != nil {
		return ports.Page[*domain.User]{}, err
	}
	if err := checkUserQuery(q); err != nil {
		return ports.Page[*domain.User]{}, err
	}
	return s.auth.store.Users().List(ctx, ports.UserFilter{
		OrgID: acc.org.ID(), Q: q.Q, Email: q.Email, PageRequest: normalizePage(q.PageRequest),
	})
}

// Get returns the profile of one member of the organization (members:read);
// a user who is not a member is domain.ErrNotFound.
func (s *UserService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef, userID string) (*domain.User, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermMembersRead, read)
	if err != nil {
		return nil, err
	}
	m, err := s.auth.store.Memberships().GetMember(ctx, acc.org.ID(), userKey(userID))
	if err != nil {
		return nil, err
	}
	return m.User, nil
}

// ListAll returns every user; only platform administrators may
// (domain.ErrPlatformAdminRequired).
func (s *UserService) ListAll(ctx context.Context, p ports.Principal, q ports.UserQuery) (ports.Page[*domain.User], error) {
	if !p.PlatformAdmin {
		return ports.Page[*domain.User]{}, domain.ErrPlatformAdminRequired
	}
	if err := checkUserQuery(q); err != nil {
		return ports.Page[*domain.User]{}, err
	}
	if _, err := s.platformAdmin(ctx, p); err != nil {
		return ports.Page[*domain.User]{}, err
	}
	return s.auth.store.Users().List(ctx, ports.UserFilter{Q: q.Q, Email: q.Email, PageRequest: normalizePage(q.PageRequest)})
}

// platformAdmin lets only platform administrators through
// (domain.ErrPlatformAdminRequired), and only with an active user record of
// their own (a deactivated administrator's token is refused like any other).
func (s *UserService) platformAdmin(ctx context.Context, p ports.Principal) (*domain.User, error) {
	if !p.PlatformAdmin {
		return nil, domain.ErrPlatformAdminRequired
	}
	return s.auth.callerUser(ctx, p)
}

// GetAny returns any user by ID, erased ones included (their tombstone);
// only platform administrators may.
func (s *UserService) GetAny(ctx context.Context, p ports.Principal, userID string) (*domain.User, error) {
	if _, err := s.platformAdmin(ctx, p); err != nil {
		return nil, err
	}
	return s.auth.store.Users().Get(ctx, userKey(userID))
}

// SetStatus deactivates or activates a user; only platform administrators
// may. The user row is locked, the version precondition compared and the
// status changed in one transaction (nothing is written when the status is
// already the one asked). A deactivated user's tokens are refused (401
// user_deactivated) and checks about it answer "not allowed"; its
// memberships and fields are kept, so activating it restores everything.
// Deactivating the last owner of an organization is allowed: it is
// reversible, and platform administrators keep access.
func (s *UserService) SetStatus(ctx context.Context, p ports.Principal, userID string, status string, ifVersion int64) (*domain.User, error) {
	az := s.auth
	caller, err := s.platformAdmin(ctx, p)
	if err != nil {
		return nil, err
	}
	var out *domain.User
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		u, err := r.Users().GetForUpdate(ctx, userKey(userID))
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, u.Version()); err != nil {
			return err
		}
		before := u.Status().String()
		var changed bool
		now := az.clock.Now()
		switch status {
		case domain.UserActive.String():
			changed, err = u.Activate(now)
		case domain.UserDeactivated.String():
			changed, err = u.Deactivate(now)
		default:
			return domain.Invalid("status", "must be one of active, deactivated (erase a user with DELETE)")
		}
		if err != nil {
			return err
		}
		out = u
		if !changed {
			return nil
		}
		if err := r.Users().Save(ctx, u); err != nil {
			return err
		}
		action := domain.ActionUserActivated
		if u.Status() == domain.UserDeactivated {
			action = domain.ActionUserDeactivated
		}
		return az.record(ctx, r, change{actorOf(p, caller.ID()), "", action, u.ID(),
			[]domain.FieldChange{{Field: "status", Before: before, After: u.Status().String()}}})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Erase removes every membership of a user and clears its personal fields
// (email, name, metadata), keeping a tombstone (ID, issuer, subject, status
// erased) so that its next token is refused (401 user_erased) instead of
// creating the user again; only platform administrators may. One
// transaction locks the user row, then, organization by organization in ID
// order (so concurrent erasures cannot deadlock), the active owners and the
// membership, as every owner-rule transaction does: when the user is the
// last active owner of any organization nothing is changed and the answer
// is a *domain.LastOwnerError naming them all.
func (s *UserService) Erase(ctx context.Context, p ports.Principal, userID string, ifVersion int64) error {
	az := s.auth
	caller, err := s.platformAdmin(ctx, p)
	if err != nil {
		return err
	}
	return az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		u, err := r.Users().GetForUpdate(ctx, userKey(userID))
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, u.Version()); err != nil {
			return err
		}
		if u.Status() == domain.UserErased {
			return domain.ErrUserErased
		}
		ms, err := r.Memberships().ListForUser(ctx, u.ID())
		if err != nil {
			return err
		}
		slices.SortFunc(ms, func(a, b ports.OrganizationMembership) int {
			return cmp.Compare(a.Membership.OrgID(), b.Membership.OrgID())
		})
		var last []domain.OrganizationName
		for _, om := range ms {
			orgID := om.Membership.OrgID()
			owners, m, err := lockForOwnerRule(ctx, r, orgID, u.ID())
			if err != nil {
				return err
			}
			if m.IsActiveOwner() && len(owners) <= 1 {
				last = append(last, domain.OrganizationName{ID: orgID, Slug: om.OrgSlug})
			}
		}
		if len(last) > 0 {
			slices.SortFunc(last, func(a, b domain.OrganizationName) int { return cmp.Compare(a.Slug, b.Slug) })
			return &domain.LastOwnerError{Organizations: last}
		}
		// One event per organization the user leaves (each tenant's log
		// shows its member going) and the erasure itself, under the user ID
		// only: the personal fields are named, never their values.
		actor := actorOf(p, caller.ID())
		events := make([]change, 0, len(ms)+1)
		for _, om := range ms {
			if err := r.Memberships().Delete(ctx, om.Membership.OrgID(), u.ID()); err != nil {
				return err
			}
			events = append(events, change{actor, om.Membership.OrgID(), domain.ActionMemberRemoved, u.ID(),
				domain.Snapshot(memberFields, memberRecord(om.Membership), false)})
		}
		erased, before := userRecord(u), u.Status().String()
		if err := u.Erase(az.clock.Now()); err != nil {
			return err
		}
		if err := r.Users().Save(ctx, u); err != nil {
			return err
		}
		fields := append(domain.Diff(userFields, erased, userRecord(u)),
			domain.FieldChange{Field: "status", Before: before, After: u.Status().String()})
		return az.record(ctx, r, append(events, change{actor, "", domain.ActionUserErased, u.ID(), fields})...)
	})
}

// checkUserQuery checks q against the rules of user lists.
func checkUserQuery(q ports.UserQuery) error {
	return ports.UserList.Check(q.PageRequest, map[string]string{"q": q.Q, "email": q.Email})
}
