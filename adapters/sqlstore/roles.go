package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// roles implements ports.RoleRepository for custom roles. Grants are kept
// in role_grants with their position, so a role's grants come back in the
// order they were given.
type roles struct{ c conn }

var _ ports.RoleRepository = roles{}

const (
	roleColumns = `r.id, r.org_id, r."key", r.name, r.description, r.created_at, r.updated_at, r.version`
	roleGrants  = "coalesce((SELECT string_agg(g.grant_value, ',' ORDER BY g.position) FROM role_grants AS g" +
		` WHERE g.org_id = r.org_id AND g.role_key = r."key"), '') AS grants`
)

// roleSorts maps each sort field of ports.RoleList to its column
// (TestSortColumnsFollowListRules keeps them in step).
var roleSorts = map[string]sortColumn{
	"key":        {expr: `r."key"`, text: true},
	"name":       {expr: "r.name", text: true},
	"created_at": {expr: "r.created_at"},
}

// createScoped is the body of Create, which scopes it. Create stores a new role and its grants. Errors: domain.ErrRoleExists;
// domain.ErrNotFound when the organization does not exist.
// A new row takes its version from the column default (1, as the
// domain starts it), so the insert also fits schemas before versions.
func (r roles) createScoped(ctx context.Context, role *domain.Role) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		if _, err := c.db.NewInsert().Model(roleFromDomain(role)).ExcludeColumn("version").Exec(ctx); err != nil {
			return translate(err, "create role", domain.ErrRoleExists)
		}
		return insertRoleGrants(ctx, c, role)
	})
}

func insertRoleGrants(ctx context.Context, c conn, role *domain.Role) error {
	rows := roleGrantRows(role)
	if len(rows) == 0 {
		return nil
	}
	_, err := c.db.NewInsert().Model(&rows).Exec(ctx)
	return translate(err, "store role grants", nil)
}

func (r roles) selectRoles(orgID string) *bun.SelectQuery {
	return r.c.db.NewSelect().TableExpr("roles AS r").ColumnExpr(roleColumns).ColumnExpr(roleGrants).
		Where("r.org_id = ?", orgID)
}

// getScoped is the body of Get, which scopes it. Get returns one role by key. Errors: domain.ErrNotFound.
func (r roles) getScoped(ctx context.Context, orgID string, key domain.RoleKey) (*domain.Role, error) {
	return r.get(ctx, orgID, key, false)
}

// getForUpdateScoped is the body of GetForUpdate, which scopes it. GetForUpdate is Get that locks the role row (FOR UPDATE on PostgreSQL)
// until the transaction ends: a transaction that read it through
// GetManyForShare has ended, and none can start to.
func (r roles) getForUpdateScoped(ctx context.Context, orgID string, key domain.RoleKey) (*domain.Role, error) {
	return r.get(ctx, orgID, key, true)
}

func (r roles) get(ctx context.Context, orgID string, key domain.RoleKey, lock bool) (*domain.Role, error) {
	var m roleModel
	q := r.selectRoles(orgID).Where(`r."key" = ?`, string(key))
	if lock {
		q = r.c.forUpdate(q, "r")
	}
	if err := q.Scan(ctx, &m); err != nil {
		return nil, translate(err, "get role", nil)
	}
	return m.toDomain(), nil
}

// getManyScoped is the body of GetMany, which scopes it. GetMany returns the roles among keys that exist, ordered by key.
func (r roles) getManyScoped(ctx context.Context, orgID string, keys []domain.RoleKey) ([]*domain.Role, error) {
	return r.getMany(ctx, orgID, keys, false)
}

// getManyForShareScoped is the body of GetManyForShare, which scopes it. GetManyForShare is GetMany that locks the roles found (FOR SHARE on
// PostgreSQL) until the transaction ends, so none of them can be deleted
// meanwhile; a role being deleted is waited for, then not found.
func (r roles) getManyForShareScoped(ctx context.Context, orgID string, keys []domain.RoleKey) ([]*domain.Role, error) {
	return r.getMany(ctx, orgID, keys, true)
}

func (r roles) getMany(ctx context.Context, orgID string, keys []domain.RoleKey, lock bool) ([]*domain.Role, error) {
	out := []*domain.Role{}
	if len(keys) == 0 {
		return out, nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = string(k)
	}
	var rows []roleModel
	q := r.selectRoles(orgID).Where(`r."key" IN (?)`, bun.List(ks)).OrderExpr(r.c.textKey(`r."key"`))
	if lock {
		q = r.c.forShare(q, "r")
	}
	err := q.Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err, "get roles", nil)
	}
	for i := range rows {
		out = append(out, rows[i].toDomain())
	}
	return out, nil
}

// updateScoped is the body of Update, which scopes it. Update stores the name, description, grants and version of role if the
// stored version is still role.Version()-1 (the one it was read at; Apply
// increments it). Errors: domain.ErrNotFound, domain.ErrVersionMismatch.
func (r roles) updateScoped(ctx context.Context, role *domain.Role) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.db.NewUpdate().Model(roleFromDomain(role)).Column("name", "description", "updated_at", "version").
			Where("r.org_id = ?", role.OrgID()).Where(`r."key" = ?`, string(role.Key())).
			Where("r.version = ?", role.Version()-1).Exec(ctx)
		if err := versionedUpdate(ctx, res, err, "update role",
			c.db.NewSelect().TableExpr("roles AS r").Where("r.org_id = ?", role.OrgID()).Where(`r."key" = ?`, string(role.Key()))); err != nil {
			return err
		}
		_, err = c.db.NewDelete().Model((*roleGrantModel)(nil)).
			Where("g.org_id = ?", role.OrgID()).Where("g.role_key = ?", string(role.Key())).Exec(ctx)
		if err != nil {
			return translate(err, "update role grants", nil)
		}
		return insertRoleGrants(ctx, c, role)
	})
}

// deleteScoped is the body of Delete, which scopes it. Delete removes one role (its grants cascade). Errors: domain.ErrNotFound.
func (r roles) deleteScoped(ctx context.Context, orgID string, key domain.RoleKey) error {
	res, err := r.c.db.NewDelete().Model((*roleModel)(nil)).
		Where("r.org_id = ?", orgID).Where(`r."key" = ?`, string(key)).Exec(ctx)
	return affectedOne(res, err, "delete role")
}

// countGrantingScoped is the body of CountGranting, which scopes it. CountGranting returns how many roles grant permission key by name.
func (r roles) countGrantingScoped(ctx context.Context, orgID string, key domain.PermissionKey) (int, error) {
	n, err := r.c.db.NewSelect().Model((*roleGrantModel)(nil)).
		Where("g.org_id = ?", orgID).Where("g.grant_value = ?", key.String()).Count(ctx)
	return int(n), translate(err, "count roles granting", nil)
}

// listScoped is the body of List, which scopes it. List returns every custom role of the organization matching f, ordered
// by f.Sort (default key) with the ID as tie-break. Paging is left to the
// caller, which merges built-in roles in front.
func (r roles) listScoped(ctx context.Context, f ports.RoleFilter) ([]*domain.Role, error) {
	q := whereContains(r.selectRoles(f.OrgID), f.Q, `r."key"`, "r.name")
	q, err := r.c.applySort(q, roleSorts, f.Sort, ports.RoleList.DefaultSort, "r.id")
	if err != nil {
		return nil, err
	}
	var rows []roleModel
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, translate(err, "list roles", nil)
	}
	out := make([]*domain.Role, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// Create runs createScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) Create(ctx context.Context, role *domain.Role) error {
	return r.c.tenant(ctx, role.OrgID(), func(ctx context.Context, c conn) error {
		return roles{c}.createScoped(ctx, role)
	})
}

// Get runs getScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) Get(ctx context.Context, orgID string, key domain.RoleKey) (*domain.Role, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Role, error) {
		return roles{c}.getScoped(ctx, orgID, key)
	})
}

// GetForUpdate runs getForUpdateScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) GetForUpdate(ctx context.Context, orgID string, key domain.RoleKey) (*domain.Role, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Role, error) {
		return roles{c}.getForUpdateScoped(ctx, orgID, key)
	})
}

// GetMany runs getManyScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) GetMany(ctx context.Context, orgID string, keys []domain.RoleKey) ([]*domain.Role, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) ([]*domain.Role, error) {
		return roles{c}.getManyScoped(ctx, orgID, keys)
	})
}

// GetManyForShare runs getManyForShareScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) GetManyForShare(ctx context.Context, orgID string, keys []domain.RoleKey) ([]*domain.Role, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) ([]*domain.Role, error) {
		return roles{c}.getManyForShareScoped(ctx, orgID, keys)
	})
}

// Update runs updateScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) Update(ctx context.Context, role *domain.Role) error {
	return r.c.tenant(ctx, role.OrgID(), func(ctx context.Context, c conn) error {
		return roles{c}.updateScoped(ctx, role)
	})
}

// Delete runs deleteScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) Delete(ctx context.Context, orgID string, key domain.RoleKey) error {
	return r.c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		return roles{c}.deleteScoped(ctx, orgID, key)
	})
}

// CountGranting runs countGrantingScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) CountGranting(ctx context.Context, orgID string, key domain.PermissionKey) (int, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (int, error) {
		return roles{c}.countGrantingScoped(ctx, orgID, key)
	})
}

// List runs listScoped in a transaction scoped to its organization (see tenancy.go).
func (r roles) List(ctx context.Context, f ports.RoleFilter) ([]*domain.Role, error) {
	return scopedValue(ctx, r.c, f.OrgID, func(ctx context.Context, c conn) ([]*domain.Role, error) {
		return roles{c}.listScoped(ctx, f)
	})
}
