-- Row-level security on every tenant table (defence in depth: a query that
-- forgets its organization filter sees and changes nothing of another
-- organization). The adapter sets the organization per transaction with
-- set_config('orgstack.org_id', <id>, true); see adapters/sqlstore/tenancy.go.
--
-- orgstack_tenant_rls(table, column) is the one way to put a tenant table
-- under row-level security; a migration that adds a tenant table calls it
-- (SELECT orgstack_tenant_rls('audit_events', 'org_id');). It enables and
-- FORCES row-level security (the owner obeys the policies too: a service
-- that still connects as the owner is protected as well; superusers and
-- BYPASSRLS roles are not) and creates two policies:
--   tenant_isolation (every command): rows of the organization the
--     transaction set; an unset (NULL) or empty setting matches no row, and a
--     row written must belong to it (WITH CHECK);
--   cross_tenant_read (SELECT only): every row while the transaction set
--     orgstack.cross_tenant to 'read', for the named cross-tenant reads; it
--     never allows a write.
-- Foreign key checks and cascades bypass row-level security, as PostgreSQL
-- always does for referential integrity.
CREATE FUNCTION orgstack_tenant_rls(tbl regclass, col name) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (%I = NULLIF(current_setting(''orgstack.org_id'', true), '''')) WITH CHECK (%I = NULLIF(current_setting(''orgstack.org_id'', true), ''''))', tbl, col, col);
  EXECUTE format('CREATE POLICY cross_tenant_read ON %s FOR SELECT USING (current_setting(''orgstack.cross_tenant'', true) = ''read'')', tbl);
END
$$;
--bun:split
-- orgstack_tenant_rls_off(table) undoes it (for down migrations).
CREATE FUNCTION orgstack_tenant_rls_off(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
  EXECUTE format('DROP POLICY IF EXISTS cross_tenant_read ON %s', tbl);
  EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
END
$$;
--bun:split
SELECT orgstack_tenant_rls('organizations', 'id');
--bun:split
SELECT orgstack_tenant_rls('memberships', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('membership_roles', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('roles', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('role_grants', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('permissions', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('identity_providers', 'org_id');
