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

// Create stores a new organization. Errors: domain.ErrSlugTaken.
func (r organizations) Create(ctx context.Context, o *domain.Organization) error {
	m, err := orgFromDomain(o)
	if err != nil {
		return err
	}
	_, err = r.c.db.NewInsert().Model(m).Exec(ctx)
	return translate(err, "create organization", domain.ErrSlugTaken)
}

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

// Get returns the organization with that ID. Errors: domain.ErrNotFound.
func (r organizations) Get(ctx context.Context, id string) (*domain.Organization, error) {
	return r.get(ctx, "o.id = ?", id, false)
}

// GetByRef returns the organization ref names, by ID or by slug. Errors:
// domain.ErrNotFound.
func (r organizations) GetByRef(ctx context.Context, ref domain.OrgRef) (*domain.Organization, error) {
	if id, ok := ref.ID(); ok {
		return r.get(ctx, "o.id = ?", id, false)
	}
	if slug, ok := ref.Slug(); ok {
		return r.get(ctx, "o.slug = ?", string(slug), false)
	}
	return nil, domain.ErrNotFound
}

// GetForUpdate is Get that locks the row (FOR UPDATE on PostgreSQL) until
// the transaction ends.
func (r organizations) GetForUpdate(ctx context.Context, id string) (*domain.Organization, error) {
	return r.get(ctx, "o.id = ?", id, true)
}

// Update stores o if the stored version is still prevVersion. Errors:
// domain.ErrNotFound, domain.ErrVersionMismatch, domain.ErrSlugTaken.
func (r organizations) Update(ctx context.Context, o *domain.Organization, prevVersion int64) error {
	m, err := orgFromDomain(o)
	if err != nil {
		return err
	}
	res, err := r.c.db.NewUpdate().Model(m).
		Column("slug", "name", "status", "metadata", "updated_at", "version").
		Where("o.id = ?", m.ID).Where("o.version = ?", prevVersion).
		Exec(ctx)
	if err != nil {
		return translate(err, "update organization", domain.ErrSlugTaken)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return translate(err, "update organization", nil)
	}
	exists, err := r.c.db.NewSelect().Model((*orgModel)(nil)).Where("o.id = ?", m.ID).Exists(ctx)
	if err != nil {
		return translate(err, "update organization", nil)
	}
	if !exists {
		return domain.ErrNotFound
	}
	return domain.ErrVersionMismatch
}

// Delete removes the organization; the foreign keys cascade to its
// memberships, roles, custom permissions and identity provider, whose
// deletion is recorded as a provider change first. Errors:
// domain.ErrNotFound.
func (r organizations) Delete(ctx context.Context, id string) error {
	return r.c.inTx(ctx, func(ctx context.Context, c conn) error {
		if err := recordOrgDeletion(ctx, c, id); err != nil {
			return err
		}
		res, err := c.db.NewDelete().Model((*orgModel)(nil)).Where("o.id = ?", id).Exec(ctx)
		return affectedOne(res, err, "delete organization")
	})
}

// List returns a page of organizations matching f, ordered by f.Sort
// (default created_at) with the ID as tie-break.
func (r organizations) List(ctx context.Context, f ports.OrganizationFilter) (ports.Page[*domain.Organization], error) {
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
