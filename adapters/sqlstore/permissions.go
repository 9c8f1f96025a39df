package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// permissions implements ports.PermissionRepository for custom permissions.
type permissions struct{ c conn }

var _ ports.PermissionRepository = permissions{}

// createScoped is the body of Create, which scopes it. Create stores a new permission. Errors: domain.ErrPermissionExists;
// domain.ErrNotFound when the organization does not exist.
// A new row takes its version from the column default (1, as the
// domain starts it), so the insert also fits schemas before versions.
func (r permissions) createScoped(ctx context.Context, p *domain.Permission) error {
	_, err := r.c.db.NewInsert().Model(permissionFromDomain(p)).ExcludeColumn("version").Exec(ctx)
	return translate(err, "create permission", domain.ErrPermissionExists)
}

// getScoped is the body of Get, which scopes it. Get returns one permission by key. Errors: domain.ErrNotFound.
func (r permissions) getScoped(ctx context.Context, orgID string, key domain.PermissionKey) (*domain.Permission, error) {
	return r.get(ctx, orgID, key, false)
}

// getForUpdateScoped is the body of GetForUpdate, which scopes it. GetForUpdate is Get that locks the permission row (FOR UPDATE on
// PostgreSQL) until the transaction ends: a transaction that read it
// through ExistingForShare has ended, and none can start to.
func (r permissions) getForUpdateScoped(ctx context.Context, orgID string, key domain.PermissionKey) (*domain.Permission, error) {
	return r.get(ctx, orgID, key, true)
}

func (r permissions) get(ctx context.Context, orgID string, key domain.PermissionKey, lock bool) (*domain.Permission, error) {
	var m permissionModel
	q := r.c.db.NewSelect().Model(&m).Where("p.org_id = ?", orgID).Where(`p."key" = ?`, key.String())
	if lock {
		q = r.c.forUpdate(q, "")
	}
	err := q.Scan(ctx)
	if err != nil {
		return nil, translate(err, "get permission", nil)
	}
	return m.toDomain(), nil
}

// existingScoped is the body of Existing, which scopes it. Existing returns which of keys exist in the organization, ordered by key.
func (r permissions) existingScoped(ctx context.Context, orgID string, keys []domain.PermissionKey) ([]domain.PermissionKey, error) {
	return r.existing(ctx, orgID, keys, false)
}

// existingForShareScoped is the body of ExistingForShare, which scopes it. ExistingForShare is Existing that locks the permissions found (FOR SHARE
// on PostgreSQL) until the transaction ends, so none of them can be deleted
// meanwhile; a permission being deleted is waited for, then not found.
func (r permissions) existingForShareScoped(ctx context.Context, orgID string, keys []domain.PermissionKey) ([]domain.PermissionKey, error) {
	return r.existing(ctx, orgID, keys, true)
}

func (r permissions) existing(ctx context.Context, orgID string, keys []domain.PermissionKey, lock bool) ([]domain.PermissionKey, error) {
	out := []domain.PermissionKey{}
	if len(keys) == 0 {
		return out, nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = k.String()
	}
	var found []string
	q := r.c.db.NewSelect().TableExpr("permissions AS p").Column("p.key").
		Where("p.org_id = ?", orgID).Where(`p."key" IN (?)`, bun.List(ks)).
		OrderExpr(r.c.textKey(`p."key"`))
	if lock {
		q = r.c.forShare(q, "p")
	}
	err := q.Scan(ctx, &found)
	if err != nil {
		return nil, translate(err, "find permissions", nil)
	}
	for _, v := range found {
		k, err := domain.ParsePermissionKey(v)
		if err != nil {
			continue // stored before a rule change; not a usable key
		}
		out = append(out, k)
	}
	return out, nil
}

// updateScoped is the body of Update, which scopes it. Update stores the description and version of p if the stored version is
// still p.Version()-1 (the one p was read at; Describe increments it).
// Errors: domain.ErrNotFound, domain.ErrVersionMismatch.
func (r permissions) updateScoped(ctx context.Context, p *domain.Permission) error {
	res, err := r.c.db.NewUpdate().Model(permissionFromDomain(p)).Column("description", "updated_at", "version").
		Where("p.org_id = ?", p.OrgID()).Where(`p."key" = ?`, p.Key().String()).
		Where("p.version = ?", p.Version()-1).Exec(ctx)
	return versionedUpdate(ctx, res, err, "update permission",
		r.c.db.NewSelect().TableExpr("permissions AS p").Where("p.org_id = ?", p.OrgID()).Where(`p."key" = ?`, p.Key().String()))
}

// deleteScoped is the body of Delete, which scopes it. Delete removes one permission. Errors: domain.ErrNotFound.
func (r permissions) deleteScoped(ctx context.Context, orgID string, key domain.PermissionKey) error {
	res, err := r.c.db.NewDelete().Model((*permissionModel)(nil)).
		Where("p.org_id = ?", orgID).Where(`p."key" = ?`, key.String()).Exec(ctx)
	return affectedOne(res, err, "delete permission")
}

// listScoped is the body of List, which scopes it. List returns every custom permission of the organization matching f,
// ordered by key.
func (r permissions) listScoped(ctx context.Context, f ports.PermissionFilter) ([]*domain.Permission, error) {
	var rows []permissionModel
	q := r.c.db.NewSelect().Model(&rows).Where("p.org_id = ?", f.OrgID)
	q = whereContains(q, f.Q, `p."key"`, "p.description")
	if err := q.OrderExpr(r.c.textKey(`p."key"`)).OrderExpr(r.c.textKey("p.id")).Scan(ctx); err != nil {
		return nil, translate(err, "list permissions", nil)
	}
	out := make([]*domain.Permission, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// Create runs createScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) Create(ctx context.Context, p *domain.Permission) error {
	return r.c.tenant(ctx, p.OrgID(), func(ctx context.Context, c conn) error {
		return permissions{c}.createScoped(ctx, p)
	})
}

// Get runs getScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) Get(ctx context.Context, orgID string, key domain.PermissionKey) (*domain.Permission, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Permission, error) {
		return permissions{c}.getScoped(ctx, orgID, key)
	})
}

// GetForUpdate runs getForUpdateScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) GetForUpdate(ctx context.Context, orgID string, key domain.PermissionKey) (*domain.Permission, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Permission, error) {
		return permissions{c}.getForUpdateScoped(ctx, orgID, key)
	})
}

// Existing runs existingScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) Existing(ctx context.Context, orgID string, keys []domain.PermissionKey) ([]domain.PermissionKey, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) ([]domain.PermissionKey, error) {
		return permissions{c}.existingScoped(ctx, orgID, keys)
	})
}

// ExistingForShare runs existingForShareScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) ExistingForShare(ctx context.Context, orgID string, keys []domain.PermissionKey) ([]domain.PermissionKey, error) {
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) ([]domain.PermissionKey, error) {
		return permissions{c}.existingForShareScoped(ctx, orgID, keys)
	})
}

// Update runs updateScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) Update(ctx context.Context, p *domain.Permission) error {
	return r.c.tenant(ctx, p.OrgID(), func(ctx context.Context, c conn) error {
		return permissions{c}.updateScoped(ctx, p)
	})
}

// Delete runs deleteScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) Delete(ctx context.Context, orgID string, key domain.PermissionKey) error {
	return r.c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		return permissions{c}.deleteScoped(ctx, orgID, key)
	})
}

// List runs listScoped in a transaction scoped to its organization (see tenancy.go).
func (r permissions) List(ctx context.Context, f ports.PermissionFilter) ([]*domain.Permission, error) {
	return scopedValue(ctx, r.c, f.OrgID, func(ctx context.Context, c conn) ([]*domain.Permission, error) {
		return permissions{c}.listScoped(ctx, f)
	})
}
