DELETE FROM identity_provider_audiences AS a
WHERE NOT EXISTS (SELECT 1 FROM identity_providers AS p WHERE p.org_id = a.org_id);
--bun:split
ALTER TABLE identity_provider_audiences ADD CONSTRAINT identity_provider_audiences_org_id_fkey
    FOREIGN KEY (org_id) REFERENCES identity_providers (org_id) ON DELETE CASCADE;
--bun:split
DROP INDEX organizations_slug_idx;
--bun:split
ALTER TABLE organizations ADD CONSTRAINT organizations_slug_key UNIQUE (slug);
--bun:split
DROP TABLE organization_slugs;
--bun:split
ALTER TABLE permissions DROP CONSTRAINT permissions_pkey;
--bun:split
ALTER TABLE permissions ADD CONSTRAINT permissions_pkey PRIMARY KEY (id);
--bun:split
ALTER TABLE roles DROP CONSTRAINT roles_pkey;
--bun:split
ALTER TABLE roles ADD CONSTRAINT roles_pkey PRIMARY KEY (id);
