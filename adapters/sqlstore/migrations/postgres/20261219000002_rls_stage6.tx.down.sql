SELECT orgstack_tenant_rls_off('webhook_attempts');
--bun:split
SELECT orgstack_tenant_rls_off('webhook_deliveries');
--bun:split
SELECT orgstack_tenant_rls_off('webhook_events');
--bun:split
SELECT orgstack_tenant_rls_off('webhook_sequences');
--bun:split
SELECT orgstack_tenant_rls_off('webhook_claims');
--bun:split
SELECT orgstack_tenant_rls_off('webhooks');
--bun:split
DROP POLICY IF EXISTS no_organization ON idempotency_keys;
--bun:split
SELECT orgstack_tenant_rls_off('idempotency_keys');
--bun:split
DROP POLICY IF EXISTS no_organization ON audit_events;
--bun:split
SELECT orgstack_tenant_rls_off('audit_events');
--bun:split
DROP FUNCTION orgstack_no_org_rls(regclass, name);
