SELECT orgstack_tenant_rls_off('identity_providers');
--bun:split
SELECT orgstack_tenant_rls_off('permissions');
--bun:split
SELECT orgstack_tenant_rls_off('role_grants');
--bun:split
SELECT orgstack_tenant_rls_off('roles');
--bun:split
SELECT orgstack_tenant_rls_off('membership_roles');
--bun:split
SELECT orgstack_tenant_rls_off('memberships');
--bun:split
SELECT orgstack_tenant_rls_off('organizations');
--bun:split
DROP FUNCTION orgstack_tenant_rls_off(regclass);
--bun:split
DROP FUNCTION orgstack_tenant_rls(regclass, name);
