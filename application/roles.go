package application

import (
	"context"
	"slices"
	"strconv"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Roles = (*RoleService)(nil)

// RoleService implements ports.Roles.
type RoleService struct {
	auth *authorizer
}

// List returns the built-in roles followed by the organization's custom
// roles (roles:read), filtered by f.Q (key or name contains) and sorted by
// key, name or created_at; by default built-in roles come first, in their
// canonical order, then custom roles by key.
func (s *RoleService) List(ctx context.Context, p ports.Principal, org domain.OrgRef, f ports.RoleQuery) (ports.Page[*domain.Role], error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermRolesRead, read)
	if err != nil {
		return ports.Page[*domain.Role]{}, err
	}
	if err := ports.RoleList.Check(f.PageRequest, map[string]string{"q": f.Q}); err != nil {
		return ports.Page[*domain.Role]{}, err
	}
	var all []*domain.Role
	for _, r := range domain.BuiltinRoles() {
		if containsFold(f.Q, string(r.Key()), r.Name()) {
			all = append(all, r)
		}
	}
	custom, err := s.auth.store.Roles().List(ctx, ports.RoleFilter{OrgID: acc.org.ID(), Q: f.Q})
	if err != nil {
		return ports.Page[*domain.Role]{}, err
	}
	slices.SortFunc(custom, func(a, b *domain.Role) int { return compareFold(string(a.Key()), string(b.Key()), false) })
	all = append(all, custom...)
	if len(f.Sort) > 0 {
		slices.SortStableFunc(all, func(a, b *domain.Role) int { return compareRoles(a, b, f.Sort) })
	}
	return paginate(all, f.PageRequest), nil
}

// compareRoles orders roles by the sort fields, then built-in before
// custom, then by key.
func compareRoles(a, b *domain.Role, sort []ports.SortField) int {
	for _, sf := range sort {
		var c int
		switch sf.Field {
		case "key":
			c = compareFold(string(a.Key()), string(b.Key()), sf.Desc)
		case "name":
			c = compareFold(a.Name(), b.Name(), sf.Desc)
		case "created_at":
			c = compareTimes(a.CreatedAt(), b.CreatedAt(), sf.Desc)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case a.IsBuiltin() && !b.IsBuiltin():
		return -1
	case !a.IsBuiltin() && b.IsBuiltin():
		return 1
	}
	return compareFold(string(a.Key()), string(b.Key()), false)
}

// Get returns one role, built-in or custom (roles:read).
func (s *RoleService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef, key string) (*domain.Role, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermRolesRead, read)
	if err != nil {
		return nil, err
	}
	k, err := domain.ParseRoleKey(key)
	if err != nil {
		return nil, domain.ErrNotFound
	}
	if r, ok := domain.BuiltinRole(k); ok {
		return r, nil
	}
	return s.auth.store.Roles().Get(ctx, acc.org.ID(), k)
}

// Create defines a custom role (roles:write). Every concrete grant must name
// a defined permission, and every grant must be covered by the caller's own
// grants (domain.ErrEscalation).
func (s *RoleService) Create(ctx context.Context, p ports.Principal, org domain.OrgRef, in ports.CreateRole) (*domain.Role, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermRolesWrite, write)
	if err != nil {
		return nil, err
	}
	if k, err := domain.ParseRoleKey(in.Key); err == nil && domain.IsBuiltinRole(k) {
		return nil, domain.ErrBuiltinRole
	}
	grants := in.Permissions
	if grants == nil {
		grants = []string{}
	}
	r, err := domain.NewRole(az.ids.NewID(), acc.org.ID(), in.Key, in.Name, in.Description, grants, az.clock.Now())
	if err != nil {
		return nil, err
	}
	err = az.store.RunInTx(ctx, func(ctx context.Context, repos ports.Repositories) error {
		if err := checkGrants(ctx, repos.Permissions(), acc, grants); err != nil {
			return err
		}
		if err := repos.Roles().Create(ctx, r); err != nil {
			return err
		}
		return az.record(ctx, repos, change{actorOf(p, acc.user.ID()), r.OrgID(), domain.ActionRoleCreated, string(r.Key()),
			domain.Snapshot(roleFields, roleRecord(r), true)})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Update changes a custom role's name, description or grants (roles:write),
// under the same rules as Create. Built-in roles: domain.ErrBuiltinRole.
// ifVersion, when non-zero, must be the current version; the store writes
// only if the version is still the one read (domain.ErrVersionMismatch).
func (s *RoleService) Update(ctx context.Context, p ports.Principal, org domain.OrgRef, key string, c domain.RoleChanges, ifVersion int64) (*domain.Role, error) {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermRolesWrite, write)
	if err != nil {
		return nil, err
	}
	k, err := domain.ParseRoleKey(key)
	if err != nil {
		return nil, domain.ErrNotFound
	}
	if domain.IsBuiltinRole(k) {
		return nil, domain.ErrBuiltinRole
	}
	var out *domain.Role
	err = az.store.RunInTx(ctx, func(ctx context.Context, repos ports.Repositories) error {
		r, err := repos.Roles().GetForUpdate(ctx, acc.org.ID(), k)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, r.Version()); err != nil {
			return err
		}
		if c.Name == nil && c.Description == nil && c.Grants == nil {
			out = r // nothing to change: same version, as for organizations
			return nil
		}
		before := roleRecord(r)
		if err := r.Apply(c, az.clock.Now()); err != nil {
			return err
		}
		if c.Grants != nil {
			if err := checkGrants(ctx, repos.Permissions(), acc, *c.Grants); err != nil {
				return err
			}
		}
		if err := repos.Roles().Update(ctx, r); err != nil {
			return err
		}
		out = r
		return az.record(ctx, repos, change{actorOf(p, acc.user.ID()), r.OrgID(), domain.ActionRoleUpdated, string(r.Key()),
			domain.Diff(roleFields, before, roleRecord(r))})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes a custom role that no membership holds (roles:write).
// Errors: domain.ErrBuiltinRole, domain.ErrRoleInUse, and
// domain.ErrVersionMismatch when ifVersion is non-zero and not the current
// version (compared under the row lock).
func (s *RoleService) Delete(ctx context.Context, p ports.Principal, org domain.OrgRef, key string, ifVersion int64) error {
	az := s.auth
	acc, err := az.authorize(ctx, p, org, domain.PermRolesWrite, write)
	if err != nil {
		return err
	}
	k, err := domain.ParseRoleKey(key)
	if err != nil {
		return domain.ErrNotFound
	}
	if domain.IsBuiltinRole(k) {
		return domain.ErrBuiltinRole
	}
	orgID := acc.org.ID()
	return az.store.RunInTx(ctx, func(ctx context.Context, repos ports.Repositories) error {
		// Locked first: assignments read the role FOR SHARE, so one in
		// flight has committed before the count below, and none can start.
		r, err := repos.Roles().GetForUpdate(ctx, orgID, k)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, r.Version()); err != nil {
			return err
		}
		n, err := repos.Memberships().CountWithRole(ctx, orgID, k)
		if err != nil {
			return err
		}
		if n > 0 {
			return domain.ErrRoleInUse
		}
		if err := repos.Roles().Delete(ctx, orgID, k); err != nil {
			return err
		}
		return az.record(ctx, repos, change{actorOf(p, acc.user.ID()), orgID, domain.ActionRoleDeleted, string(k),
			domain.Snapshot(roleFields, roleRecord(r), false)})
	})
}

// checkGrants checks the grants of a role being written: each concrete
// grant must name a system permission or a custom permission of the
// organization (a *domain.UnknownReferenceError on "permissions/<index>"), and each grant
// must be covered by the caller's grants (domain.ErrEscalation). The grants
// must already be well-formed. It runs in the transaction that stores the
// grants: the custom permissions named are read FOR SHARE, so none can be
// deleted before the grants are committed (PermissionService.Delete locks
// the permission FOR UPDATE, then counts the roles granting it). Pattern
// grants (resource:*, *) lock nothing: they name no permission, a
// permission they cover may be deleted ("in use" means granted by name),
// and one created later under them is theirs by design.
func checkGrants(ctx context.Context, perms ports.PermissionRepository, acc *access, raw []string) error {
	grants := make([]domain.Grant, len(raw))
	var custom []domain.PermissionKey
	for i, v := range raw {
		g, err := domain.ParseGrant(v)
		if err != nil {
			return domain.Invalid("permissions/"+strconv.Itoa(i), "must be a permission key, resource:* or *")
		}
		grants[i] = g
		if k, ok := g.Key(); ok && !k.IsSystem() && !slices.Contains(custom, k) {
			custom = append(custom, k)
		}
	}
	var existing []domain.PermissionKey
	if len(custom) > 0 {
		var err error
		if existing, err = perms.ExistingForShare(ctx, acc.org.ID(), custom); err != nil {
			return err
		}
	}
	var fe []domain.FieldError
	for i, g := range grants {
		if k, ok := g.Key(); ok && !k.IsSystem() && !slices.Contains(existing, k) {
			fe = append(fe, domain.FieldError{Field: "permissions/" + strconv.Itoa(i), Detail: "no permission has this key"})
		}
	}
	if len(fe) > 0 {
		return &domain.UnknownReferenceError{Fields: fe}
	}
	if acc.principal.PlatformAdmin {
		return nil
	}
	for _, g := range grants {
		if !acc.grants.Covers(g) {
			return domain.ErrEscalation
		}
	}
	return nil
}
