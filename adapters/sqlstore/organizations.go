package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// organizations implements ports.OrganizationRepository.
type organizations struct{ c conn }

var _ ports.OrganizationRepository = organizations{}

// orgSorts maps each sort field of ports.OrganizationList to its column
// (TestSortColumnsFollowListRules keeps them in step).
var orgSorts = map[string]sortColumn{
	"name":       {expr: "o.name", text: true},
	"slug":       {expr: "o.slug", text: true},
	"status":     {expr: "o.status", text: true},
	"created_at": {expr: "o.created_at"},
	"updated_at": {expr: "o.updated_at"},
}

// createScoped is the body of Create, which scopes it. Create stores a new organization. Errors: domain.ErrSlugTaken.
func (r organizations) createScoped(ctx context.Context, o *domain.Organization) error {
	m, err := orgFromDomain(o)
	if err != nil {
		return err
	}
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		if _, err := c.execRaw(ctx, "INSERT INTO organization_slugs (slug, org_id) VALUES (?, ?)", m.Slug, m.ID); err != nil {
			return translate(err, "create organization", domain.ErrSlugTaken)
		}
		_, err := c.db.NewInsert().Model(m).Exec(ctx)
		return translate(err, "create organization", domain.ErrSlugTaken)
	})
}

// Slugs are unique across organizations through organization_slugs, a
// global table (slug primary key, one row per organization) written in the
// transaction that writes the organization: a unique constraint on
// organizations.slug could not hold once organizations are sharded by ID.
// organizations.slug stays, with a plain index, for lookups and lists.

func (r organizations) get(ctx context.Context, where string, arg any, lock bool) (*domain.Organization, error) {
	var m orgModel
	q := r.c.db.NewSelect().Model(&m).Column("o.id", "o.slug", "o.name", "o.status", "o.metadata",
		"o.created_at", "o.updated_at", "o.version").Where(where, arg)
	if lock {
		q = r.c.forUpdate(q, "")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err, "get organization", nil)
	}
	return m.toDomain()
}

// getScoped is the body of Get, which scopes it. Get returns the organization with that ID. Errors: domain.ErrNotFound.
func (r organizations) getScoped(ctx context.Context, id string) (*domain.Organization, error) {
	return r.get(ctx, "o.id = ?", id, false)
}

// GetByRef returns the organization ref names, by ID or by slug. Errors:
// domain.ErrNotFound.
func (r organizations) GetByRef(ctx context.Context, ref domain.OrgRef) (*domain.Organization, error) {
	if id, ok := ref.ID(); ok {
		return r.Get(ctx, id)
	}
	if slug, ok := ref.Slug(); ok {
		var o *domain.Organization
		err := r.c.tenantBySlug(ctx, string(slug), func(ctx context.Context, c conn) error {
			var err error
			o, err = organizations{c}.get(ctx, "o.slug = ?", string(slug), false)
			return err
		})
		return o, err
	}
	return nil, domain.ErrNotFound
}

// getForUpdateScoped is the body of GetForUpdate, which scopes it. GetForUpdate is Get that locks the row (FOR UPDATE on PostgreSQL) until
// the transaction ends.
func (r organizations) getForUpdateScoped(ctx context.Context, id string) (*domain.Organization, error) {
	return r.get(ctx, "o.id = ?", id, true)
}

// updateScoped is the body of Update, which scopes it. Update stores o if the stored version is still prevVersion. Errors:
// domain.ErrNotFound, domain.ErrVersionMismatch, domain.ErrSlugTaken.
func (r organizations) updateScoped(ctx context.Context, o *domain.Organization, prevVersion int64) error {
	m, err := orgFromDomain(o)
	if err != nil {
		return err
	}
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		res, err := c.db.NewUpdate().Model(m).
			Column("slug", "name", "status", "metadata", "updated_at", "version").
			Where("o.id = ?", m.ID).Where("o.version = ?", prevVersion).
			Exec(ctx)
		if err != nil {
			return translate(err, "update organization", domain.ErrSlugTaken)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return translate(err, "update organization", nil)
		}
		if n == 1 {
			_, err := c.execRaw(ctx, "UPDATE organization_slugs SET slug = ? WHERE org_id = ? AND slug <> ?", m.Slug, m.ID, m.Slug)
			return translate(err, "update organization slug", domain.ErrSlugTaken)
		}
		return r.updateMissed(ctx, c, m.ID)
	})
}

// updateMissed tells why an update matched no row.
func (r organizations) updateMissed(ctx context.Context, c conn, id string) error {
	exists, err := c.db.NewSelect().Model((*orgModel)(nil)).Where("o.id = ?", id).Exists(ctx)
	if err != nil {
		return translate(err, "update organization", nil)
	}
	if !exists {
		return domain.ErrNotFound
	}
	return domain.ErrVersionMismatch
}

// deleteScoped is the body of Delete, which scopes it. Delete removes the organization and its slug; the foreign keys cascade to
// its memberships, roles, custom permissions and identity provider, whose
// deletion is recorded as a provider change first (and whose audiences,
// a global table without a foreign key, are deleted with it). Errors:
// domain.ErrNotFound.
func (r organizations) deleteScoped(ctx context.Context, id string) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		if err := recordOrgDeletion(ctx, c, id); err != nil {
			return err
		}
		res, err := c.db.NewDelete().Model((*orgModel)(nil)).Where("o.id = ?", id).Exec(ctx)
		if err := affectedOne(res, err, "delete organization"); err != nil {
			return err
		}
		_, err = c.execRaw(ctx, "DELETE FROM organization_slugs WHERE org_id = ?", id)
		return translate(err, "delete organization slug", nil)
	})
}

// listScoped is the body of List, which scopes it. List returns a page of organizations matching f, ordered by f.Sort
// (default created_at) with the ID as tie-break.
func (r organizations) listScoped(ctx context.Context, f ports.OrganizationFilter) (ports.Page[*domain.Organization], error) {
	out := ports.Page[*domain.Organization]{Items: []*domain.Organization{}, Page: f.Page, Size: f.Size}
	if f.IDs != nil && len(f.IDs) == 0 {
		return out, nil
	}
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = whereContains(q, f.Q, "o.name", "o.slug")
		if f.Status != "" {
			q = q.Where("o.status = ?", f.Status)
		}
		if f.MemberUserID != "" {
			q = q.Where("EXISTS (SELECT 1 FROM memberships AS m WHERE m.org_id = o.id AND m.user_id = ? AND m.status = 'active')", f.MemberUserID)
		}
		if f.IDs != nil {
			q = q.Where("o.id IN (?)", bun.List(f.IDs))
		}
		return q
	}
	var rows []orgModel
	q := filter(r.c.db.NewSelect().Model(&rows).ColumnExpr("o.*"))
	q, err := r.c.applySort(q, orgSorts, f.Sort, ports.OrganizationList.DefaultSort, "o.id")
	if err != nil {
		return out, err
	}
	count := filter(r.c.db.NewSelect().Model((*orgModel)(nil)).ColumnExpr("count(*)"))
	if err := page(q, count, f.PageRequest).Scan(ctx); err != nil {
		return out, translate(err, "list organizations", nil)
	}
	for i := range rows {
		o, err := rows[i].toDomain()
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, o)
	}
	var first int64
	if len(rows) > 0 {
		first = rows[0].Total
	}
	out.Total, err = totalOf(ctx, len(rows), first, count, f.PageRequest)
	return out, translate(err, "count organizations", nil)
}

// Create runs createScoped in a transaction scoped to its organization (see tenancy.go).
func (r organizations) Create(ctx context.Context, o *domain.Organization) error {
	return r.c.tenant(ctx, o.ID(), func(ctx context.Context, c conn) error {
		return organizations{c}.createScoped(ctx, o)
	})
}

// Get runs getScoped in a transaction scoped to its organization (see tenancy.go).
func (r organizations) Get(ctx context.Context, id string) (*domain.Organization, error) {
	return scopedValue(ctx, r.c, id, func(ctx context.Context, c conn) (*domain.Organization, error) {
		return organizations{c}.getScoped(ctx, id)
	})
}

// GetForUpdate runs getForUpdateScoped in a transaction scoped to its organization (see tenancy.go).
func (r organizations) GetForUpdate(ctx context.Context, id string) (*domain.Organization, error) {
	return scopedValue(ctx, r.c, id, func(ctx context.Context, c conn) (*domain.Organization, error) {
		return organizations{c}.getForUpdateScoped(ctx, id)
	})
}

// Update runs updateScoped in a transaction scoped to its organization (see tenancy.go).
func (r organizations) Update(ctx context.Context, o *domain.Organization, prevVersion int64) error {
	return r.c.tenant(ctx, o.ID(), func(ctx context.Context, c conn) error {
		return organizations{c}.updateScoped(ctx, o, prevVersion)
	})
}

// Delete runs deleteScoped in a transaction scoped to its organization (see tenancy.go).
func (r organizations) Delete(ctx context.Context, id string) error {
	return r.c.tenant(ctx, id, func(ctx context.Context, c conn) error {
		return organizations{c}.deleteScoped(ctx, id)
	})
}

// List runs listScoped across organizations (read only) (see tenancy.go).
func (r organizations) List(ctx context.Context, f ports.OrganizationFilter) (ports.Page[*domain.Organization], error) {
	return crossValue(ctx, r.c, func(ctx context.Context, c conn) (ports.Page[*domain.Organization], error) {
		return organizations{c}.listScoped(ctx, f)
	})
}
