-- Membership role keys and role grants left dangling by the delete-while-
-- assigning races (fixed by row locks in the same release): a custom role
-- key that names no role of the organization, and a grant of a custom
-- permission by name that names no permission of the organization. A role
-- or permission created later with the same key would otherwise grant
-- itself to these members and roles silently. Built-in role keys, system
-- permissions and pattern grants (resource:* and *) name no row and stay.
DELETE FROM membership_roles
WHERE role_key NOT IN ('owner', 'admin', 'member')
  AND NOT EXISTS (SELECT 1 FROM roles AS r
                  WHERE r.org_id = membership_roles.org_id AND r."key" = membership_roles.role_key);
--bun:split
DELETE FROM role_grants
WHERE grant_value <> '*'
  AND grant_value NOT LIKE '%:*'
  AND grant_value NOT IN ('organization:read', 'organization:update', 'organization:delete',
                          'members:read', 'members:write', 'roles:read', 'roles:write',
                          'permissions:read', 'permissions:write', 'authz:check')
  AND NOT EXISTS (SELECT 1 FROM permissions AS p
                  WHERE p.org_id = role_grants.org_id AND p."key" = role_grants.grant_value);
