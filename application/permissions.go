package application

import (
	"context"
	"slices"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Permissions = (*PermissionService)(nil)

// PermissionService implements ports.Permissions.
type PermissionService struct {
	auth *authorizer
}

// List returns system and custom permissions (permissions:read), filtered by
// type (system or custom) and q (key or description contains), sorted by key
// unless q.Sort names key or created_at.
func (s *PermissionService) List(ctx context.Context, p ports.Principal, org domain.OrgRef, q ports.PermissionQuery) (ports.Page[*domain.Permission], error) {
	var none ports.Page[*domain.Permission]
	acc, err := s.auth.authorize(ctx, p, org, domain.PermPermissionsRead, read)
	if err != nil {
		return none, err
	}
	if err := ports.PermissionList.Check(q.PageRequest, map[string]string{"type": q.Type, "q": q.Q}); err != nil {
		return none, err
	}
	var all []*domain.Permission
	if q.Type != "custom" {
		for _, perm := range domain.SystemPermissions() {
			if containsFold(q.Q, perm.Key().String(), perm.Description()) {
				all = append(all, perm)
			}
		}
	}
	if q.Type != "system" {
		custom, err := s.auth.store.Permissions().List(ctx, ports.PermissionFilter{OrgID: acc.org.ID(), Q: q.Q})
		if err != nil {
			return none, err
		}
		all = append(all, custom...)
	}
	sort := q.Sort
	if len(sort) == 0 {
		sort = ports.PermissionList.DefaultSort
	}
	slices.SortStableFunc(all, func(a, b *domain.Permission) int {
		for _, sf := range sort {
			var c int
			switch sf.Field {
			case "key":
				c = compareFold(a.Key().String(), b.Key().String(), sf.Desc)
			case "created_at":
				c = compareTimes(a.CreatedAt(), b.CreatedAt(), sf.Desc)
			}
			if c != 0 {
				return c
			}
		}
		return compareFold(a.Key().String(), b.Key().String(), false)
	})
	return paginate(all, q.PageRequest), nil
}

// Get returns one permission, system or custom (permissions:read). A
// malformed key is domain.ErrNotFound.
func (s *PermissionService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef, key string) (*domain.Permission, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermPermissionsRead, read)
	if err != nil {
		return nil, err
	}
	k, err := domain.ParsePermissionKey(key)
	if err != nil {
		return nil, domain.ErrNotFound
	}
	if perm, ok := domain.SystemPermission(k); ok {
		return perm, nil
	}
	return s.auth.store.Permissions().Get(ctx, acc.org.ID(), k)
}

// Create defines a custom permission (permissions:write). Errors:
// *domain.ValidationError, domain.ErrPermissionExists.
func (s *PermissionService) Create(ctx context.Context, p ports.Principal, org domain.OrgRef, in ports.CreatePermission) (*domain.Permission, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermPermissionsWrite, write)
	if err != nil {
		return nil, err
	}
	perm, err := domain.NewCustomPermission(az.ids.NewID(), acc.org.ID(), in.Key, in.Description, az.clock.Now())
	if err != nil {
		return nil, err
	}
	// In a transaction like every change, so that what is bound to the
	// request's change (its idempotency key) commits with it.
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		return r.Permissions().Create(ctx, perm)
	})
	if err != nil {
		return nil, err
	}
	return perm, nil
}

// Update changes a custom permission's description (permissions:write).
// System permissions: domain.ErrSystemPermission. ifVersion, when
// non-zero, must be the current version, compared under the row lock
// (domain.ErrVersionMismatch).
func (s *PermissionService) Update(ctx context.Context, p ports.Principal, org domain.OrgRef, key string, description string, ifVersion int64) (*domain.Permission, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermPermissionsWrite, write)
	if err != nil {
		return nil, err
	}
	k, err := domain.ParsePermissionKey(key)
	if err != nil {
		return nil, domain.ErrNotFound
	}
	if k.IsSystem() {
		return nil, domain.ErrSystemPermission
	}
	var out *domain.Permission
	err = az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		perm, err := r.Permissions().GetForUpdate(ctx, acc.org.ID(), k)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, perm.Version()); err != nil {
			return err
		}
		if err := perm.Describe(description, az.clock.Now()); err != nil {
			return err
		}
		if err := r.Permissions().Update(ctx, perm); err != nil {
			return err
		}
		out = perm
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes a custom permission that no role grants by name
// (permissions:write). Errors: domain.ErrSystemPermission,
// domain.ErrPermissionInUse, domain.ErrVersionMismatch (ifVersion, when
// non-zero, is compared under the row lock).
func (s *PermissionService) Delete(ctx context.Context, p ports.Principal, org domain.OrgRef, key string, ifVersion int64) error {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermPermissionsWrite, write)
	if err != nil {
		return err
	}
	k, err := domain.ParsePermissionKey(key)
	if err != nil {
		return domain.ErrNotFound
	}
	if k.IsSystem() {
		return domain.ErrSystemPermission
	}
	orgID := acc.org.ID()
	return az.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		// Locked first: grants read the permission FOR SHARE, so one in
		// flight has committed before the count below, and none can start.
		perm, err := r.Permissions().GetForUpdate(ctx, orgID, k)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, perm.Version()); err != nil {
			return err
		}
		n, err := r.Roles().CountGranting(ctx, orgID, k)
		if err != nil {
			return err
		}
		if n > 0 {
			return domain.ErrPermissionInUse
		}
		return r.Permissions().Delete(ctx, orgID, k)
	})
}
