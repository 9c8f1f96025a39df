-- Load data for measuring OrgStack against the reference probe (../shared/perf):
-- 1,000 organizations × 100 members (1 owner, 4 admins, 95 members), a custom role and
-- 10 custom permissions per organization; one organization of 10,000 members. Run on a migrated, empty OrgStack database.
\set iss 'https://dev.orgstack.invalid'
BEGIN;
INSERT INTO organizations (id, slug, name, status, metadata, created_at, updated_at, version)
SELECT md5('org' || o)::uuid::text, 'org-' || o, 'Org ' || o, 'active', '{}', now(), now(), 1
  FROM generate_series(1, 1000) o;
INSERT INTO users (id, issuer, subject, email, name, created_at, updated_at)
SELECT md5('user' || o || '-' || u)::uuid::text, :'iss', 'u-' || o || '-' || u,
       'user' || u || '@org' || o || '.example', 'User ' || u, now(), now()
  FROM generate_series(1, 1000) o, generate_series(1, 100) u;
INSERT INTO memberships (org_id, user_id, status, joined_at, updated_at)
SELECT md5('org' || o)::uuid::text, md5('user' || o || '-' || u)::uuid::text, 'active',
       now() - (u || ' minutes')::interval, now()
  FROM generate_series(1, 1000) o, generate_series(1, 100) u;
INSERT INTO membership_roles (org_id, user_id, role_key)
SELECT md5('org' || o)::uuid::text, md5('user' || o || '-' || u)::uuid::text,
       CASE WHEN u = 1 THEN 'owner' WHEN u <= 5 THEN 'admin' ELSE 'member' END
  FROM generate_series(1, 1000) o, generate_series(1, 100) u;
INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
SELECT md5('perm' || o || '-' || p)::uuid::text, md5('org' || o)::uuid::text, 'app' || p || ':use', '', now(), now()
  FROM generate_series(1, 1000) o, generate_series(1, 10) p;
INSERT INTO roles (id, org_id, "key", name, description, created_at, updated_at)
SELECT md5('role' || o)::uuid::text, md5('org' || o)::uuid::text, 'approver', 'Approver', '', now(), now()
  FROM generate_series(1, 1000) o;
INSERT INTO role_grants (org_id, role_key, position, grant_value)
SELECT md5('org' || o)::uuid::text, 'approver', p, 'app' || p || ':use'
  FROM generate_series(1, 1000) o, generate_series(1, 3) p;
INSERT INTO membership_roles (org_id, user_id, role_key)
SELECT md5('org' || o)::uuid::text, md5('user' || o || '-' || u)::uuid::text, 'approver'
  FROM generate_series(1, 1000) o, generate_series(6, 20) u;
-- One large organization for deep pages: 10,000 members, owner u-big-1.
INSERT INTO organizations (id, slug, name, status, metadata, created_at, updated_at, version)
VALUES (md5('org-big')::uuid::text, 'org-big', 'Big Org', 'active', '{}', now(), now(), 1);
INSERT INTO users (id, issuer, subject, email, name, created_at, updated_at)
SELECT md5('user-big-' || u)::uuid::text, :'iss', 'u-big-' || u, 'user' || u || '@big.example', 'User ' || u, now(), now()
  FROM generate_series(1, 10000) u;
INSERT INTO memberships (org_id, user_id, status, joined_at, updated_at)
SELECT md5('org-big')::uuid::text, md5('user-big-' || u)::uuid::text, 'active', now() - (u || ' seconds')::interval, now()
  FROM generate_series(1, 10000) u;
INSERT INTO membership_roles (org_id, user_id, role_key)
SELECT md5('org-big')::uuid::text, md5('user-big-' || u)::uuid::text, CASE WHEN u = 1 THEN 'owner' ELSE 'member' END
  FROM generate_series(1, 10000) u;
COMMIT;
ANALYZE;
