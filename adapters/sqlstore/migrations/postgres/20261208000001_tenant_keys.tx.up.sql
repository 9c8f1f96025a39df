-- Tenant keys: every key of a tenant table includes the organization, so
-- the schema can be sharded by organization (Citus: distribute the tenant
-- tables by org_id, organizations by id, colocated). TestTenantKeys
-- (adapters/sqlstore/catalog_test.go) checks the rule on the catalog.
--
-- Custom roles and permissions: primary key (org_id, id). IDs are UUIDv7,
-- unique anyway; lookups go by (org_id, "key"), which stays unique.
ALTER TABLE roles DROP CONSTRAINT roles_pkey;
--bun:split
ALTER TABLE roles ADD CONSTRAINT roles_pkey PRIMARY KEY (org_id, id);
--bun:split
ALTER TABLE permissions DROP CONSTRAINT permissions_pkey;
--bun:split
ALTER TABLE permissions ADD CONSTRAINT permissions_pkey PRIMARY KEY (org_id, id);
--bun:split
-- Slugs are unique across organizations, which a unique constraint on a
-- sharded organizations table cannot promise: the registry is a global
-- table (a Citus reference table) that the organization repository writes
-- in the same transaction as the organization.
CREATE TABLE organization_slugs (
    slug   text COLLATE "C" PRIMARY KEY,
    org_id text COLLATE "C" NOT NULL,
    CONSTRAINT organization_slugs_org_key UNIQUE (org_id)
);
--bun:split
INSERT INTO organization_slugs (slug, org_id) SELECT slug, id FROM organizations;
--bun:split
ALTER TABLE organizations DROP CONSTRAINT organizations_slug_key;
--bun:split
-- Lookups by slug (every request that names an organization by slug).
CREATE INDEX organizations_slug_idx ON organizations (slug);
--bun:split
-- (issuer, audience) is unique across organizations, so its table is
-- global; a global table cannot reference a sharded one. The identity
-- provider repository deletes an organization's audiences itself.
ALTER TABLE identity_provider_audiences DROP CONSTRAINT identity_provider_audiences_org_id_fkey;
