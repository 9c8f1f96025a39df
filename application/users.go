package application

import (
	"context"

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
	if _, err := s.auth.callerUser(ctx, p); err != nil {
		return ports.Page[*domain.User]{}, err
	}
	return s.auth.store.Users().List(ctx, ports.UserFilter{Q: q.Q, Email: q.Email, PageRequest: normalizePage(q.PageRequest)})
}

// checkUserQuery checks q against the rules of user lists.
func checkUserQuery(q ports.UserQuery) error {
	return ports.UserList.Check(q.PageRequest, map[string]string{"q": q.Q, "email": q.Email})
}
