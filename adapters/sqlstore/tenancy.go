package sqlstore

import (
	"context"

	"github.com/uptrace/bun"
)

// Row-level security (PostgreSQL). Every tenant table has row-level
// security enabled and forced, with two policies (see the migration
// 20261219000001_row_level_security and orgstack_tenant_rls there):
//
//   - tenant_isolation (every command): the row's organization column equals
//     current_setting('orgstack.org_id', true); an unset (NULL) or empty
//     setting matches no row, and a written row must match (WITH CHECK);
//   - cross_tenant_read (SELECT only): every row, while
//     current_setting('orgstack.cross_tenant', true) = 'read'.
//
// Both settings are transaction-local (set_config(…, true)): they end with
// the transaction, so a pooled connection (or a PgBouncer server
// connection in transaction mode) never carries one into the next
// transaction. The adapter sets them, never from request input other than an
// organization ID or slug: every tenant-scoped repository method runs in a
// transaction that set orgstack.org_id to its organization (conn.tenant), the
// few named cross-tenant reads set orgstack.cross_tenant (conn.crossTenant),
// and the hot paths send BEGIN, set_config, the statement and COMMIT as one
// pgx batch (hotQueries.each). SQLite has no row-level security: there these
// helpers only run fn.

// crossTenantRead is the value of orgstack.cross_tenant that lets a
// transaction read (never write) every organization's rows.
const crossTenantRead = "read"

// noOrganization is the value of orgstack.org_id under which the rows of
// no organization (org_id = ”) of audit_events and idempotency_keys are
// visible and writable (policy no_organization, migration
// 20261219000002_rls_stage6): a user's own audit events, the idempotency
// keys of requests that resolved no organization. No organization ID is
// "-"; an unset or empty setting still matches no row.
const noOrganization = "-"

// orgScope is the orgstack.org_id value for rows whose org_id is orgID:
// orgID itself, or noOrganization for "". Only the tables with the
// no_organization policy hold rows of no organization.
func orgScope(orgID string) string {
	if orgID == "" {
		return noOrganization
	}
	return orgID
}

// tenantTx is tenant in a transaction on every dialect (c's, or a new
// one), for a method whose writes must commit together.
func (c conn) tenantTx(ctx context.Context, orgID string, fn func(ctx context.Context, c conn) error) error {
	return c.inTx(ctx, func(ctx context.Context, c conn) error {
		return c.tenant(ctx, orgID, fn)
	})
}

// txScope is what the settings of one PostgreSQL transaction are, so that a
// transaction running many repository calls for one organization sets them
// once. It is shared by every conn bound to that transaction.
type txScope struct {
	set   bool
	org   string
	cross bool
}

// tenant runs fn with c scoped to organization orgID: in c's transaction,
// or in a new one when c is the pool.
func (c conn) tenant(ctx context.Context, orgID string, fn func(ctx context.Context, c conn) error) error {
	return c.scoped(ctx, orgID, false, "", fn)
}

// tenantBySlug is tenant for the organization whose slug is slug (found in
// the global slug registry, organization_slugs); no organization's rows are
// visible when there is none.
func (c conn) tenantBySlug(ctx context.Context, slug string, fn func(ctx context.Context, c conn) error) error {
	return c.scoped(ctx, "", false, slug, fn)
}

// crossTenant runs fn with c allowed to read the rows of every organization
// (and to write none of them): for the named cross-tenant paths only (the
// organization list, a user's organizations, providers by issuer and their
// change feed, the migration checks, the admin audit list, the webhook
// dispatcher's candidates, the idempotency sweep's organizations; see
// ARCHITECTURE.md). A cross-tenant UPDATE or DELETE affects no row: such
// work reads cross-tenant, then writes each row in tenant.
func (c conn) crossTenant(ctx context.Context, fn func(ctx context.Context, c conn) error) error {
	return c.scoped(ctx, "", true, "", fn)
}

func (c conn) scoped(ctx context.Context, orgID string, cross bool, slug string, fn func(ctx context.Context, c conn) error) error {
	if !c.pg {
		return fn(ctx, c)
	}
	if !c.inTransaction() {
		return unavailable(c.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return c.inTxConn(tx).scoped(ctx, orgID, cross, slug, fn)
		}))
	}
	if c.scope == nil {
		c.scope = &txScope{} // a transaction begun elsewhere: its settings are unknown
	}
	if slug == "" && c.scope.set && c.scope.org == orgID && c.scope.cross == cross {
		return fn(ctx, c)
	}
	crossValue := ""
	if cross {
		crossValue = crossTenantRead
	}
	var err error
	if slug != "" {
		_, err = c.db.ExecContext(ctx, `SELECT set_config('orgstack.org_id', coalesce((SELECT org_id FROM organization_slugs WHERE slug = ?), ''), true),
       set_config('orgstack.cross_tenant', ?, true)`, slug, crossValue)
		*c.scope = txScope{} // the organization is not known here
	} else {
		_, err = c.db.ExecContext(ctx, "SELECT set_config('orgstack.org_id', ?, true), set_config('orgstack.cross_tenant', ?, true)",
			orgID, crossValue)
		*c.scope = txScope{set: true, org: orgID, cross: cross}
	}
	if err != nil {
		*c.scope = txScope{}
		return translate(err, "set the organization of the transaction", nil)
	}
	return fn(ctx, c)
}

// inTransaction reports whether c is bound to a transaction.
func (c conn) inTransaction() bool {
	switch c.db.(type) {
	case bun.Tx, *bun.Tx:
		return true
	}
	return false
}

// inTxConn returns c bound to tx, with the settings of a new transaction.
func (c conn) inTxConn(tx bun.Tx) conn {
	return conn{db: tx, pg: c.pg, mode: c.mode, scope: &txScope{}}
}

// scopedValue is conn.tenant for a function that returns a value.
func scopedValue[T any](ctx context.Context, c conn, orgID string, fn func(ctx context.Context, c conn) (T, error)) (T, error) {
	var out T
	err := c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		var err error
		out, err = fn(ctx, c)
		return err
	})
	return out, err
}

// crossValue is conn.crossTenant for a function that returns a value.
func crossValue[T any](ctx context.Context, c conn, fn func(ctx context.Context, c conn) (T, error)) (T, error) {
	var out T
	err := c.crossTenant(ctx, func(ctx context.Context, c conn) error {
		var err error
		out, err = fn(ctx, c)
		return err
	})
	return out, err
}
