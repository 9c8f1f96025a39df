DROP TABLE IF EXISTS permissions;
--bun:split
DROP TABLE IF EXISTS role_grants;
--bun:split
DROP TABLE IF EXISTS roles;
--bun:split
DROP TABLE IF EXISTS membership_roles;
--bun:split
DROP TABLE IF EXISTS memberships;
--bun:split
DROP TABLE IF EXISTS users;
--bun:split
DROP TABLE IF EXISTS organizations;
