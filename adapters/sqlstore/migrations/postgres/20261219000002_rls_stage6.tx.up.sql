-- Row-level security on the tenant tables of stage 6 (audit, idempotency,
-- webhooks), added after 20261219000001_row_level_security.
--
-- audit_events and idempotency_keys also hold rows of no organization
-- (org_id = ''): a user's own events (profile, deactivation, erasure) and
-- the keys of requests that resolved no organization. tenant_isolation never
-- matches them (its setting '' is NULL), so a third policy,
-- no_organization, makes exactly those rows visible and writable while the
-- transaction set orgstack.org_id to the sentinel '-' (organization IDs are
-- UUIDs, never '-'). An unset (NULL) or empty setting still matches no row.
CREATE FUNCTION orgstack_no_org_rls(tbl regclass, col name) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE POLICY no_organization ON %s USING (%I = '''' AND current_setting(''orgstack.org_id'', true) = ''-'') WITH CHECK (%I = '''' AND current_setting(''orgstack.org_id'', true) = ''-'')', tbl, col, col);
END
$$;
--bun:split
SELECT orgstack_tenant_rls('audit_events', 'org_id');
--bun:split
SELECT orgstack_no_org_rls('audit_events', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('idempotency_keys', 'org_id');
--bun:split
SELECT orgstack_no_org_rls('idempotency_keys', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('webhooks', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('webhook_claims', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('webhook_sequences', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('webhook_events', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('webhook_deliveries', 'org_id');
--bun:split
SELECT orgstack_tenant_rls('webhook_attempts', 'org_id');
