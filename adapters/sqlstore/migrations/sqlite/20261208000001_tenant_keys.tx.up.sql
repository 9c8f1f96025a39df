-- Tenant keys, as on PostgreSQL (see its migration): primary keys
-- (org_id, id) for custom roles and permissions, the slug registry, and no
-- foreign key from the global audiences table. SQLite changes a key by
-- rebuilding the table; foreign keys stay on inside the migration's
-- transaction, so a parent is rebuilt only after its children (dropping a
-- parent would otherwise cascade-delete their rows). organizations keeps
-- its UNIQUE (slug) here: rebuilding it would mean rebuilding every table,
-- and an SQLite database is never sharded; the registry enforces the same
-- rule on both dialects.
CREATE TABLE roles_new (
    id          text        NOT NULL,
    org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  text        NOT NULL,
    updated_at  text        NOT NULL,
    PRIMARY KEY (org_id, id),
    CONSTRAINT roles_org_key_key UNIQUE (org_id, "key")
);
--bun:split
INSERT INTO roles_new (id, org_id, "key", name, description, created_at, updated_at)
SELECT id, org_id, "key", name, description, created_at, updated_at FROM roles;
--bun:split
-- Renaming roles_new to roles below rewrites this reference.
CREATE TABLE role_grants_new (
    org_id      text    NOT NULL,
    role_key    text    NOT NULL,
    position    integer NOT NULL,
    grant_value text    NOT NULL,
    PRIMARY KEY (org_id, role_key, grant_value),
    FOREIGN KEY (org_id, role_key) REFERENCES roles_new (org_id, "key") ON DELETE CASCADE
);
--bun:split
INSERT INTO role_grants_new (org_id, role_key, position, grant_value)
SELECT org_id, role_key, position, grant_value FROM role_grants;
--bun:split
DROP TABLE role_grants;
--bun:split
DROP TABLE roles;
--bun:split
ALTER TABLE roles_new RENAME TO roles;
--bun:split
ALTER TABLE role_grants_new RENAME TO role_grants;
--bun:split
CREATE INDEX role_grants_grant_idx ON role_grants (org_id, grant_value);
--bun:split
CREATE TABLE permissions_new (
    id          text        NOT NULL,
    org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  text        NOT NULL,
    updated_at  text        NOT NULL,
    PRIMARY KEY (org_id, id),
    CONSTRAINT permissions_org_key_key UNIQUE (org_id, "key")
);
--bun:split
INSERT INTO permissions_new (id, org_id, "key", description, created_at, updated_at)
SELECT id, org_id, "key", description, created_at, updated_at FROM permissions;
--bun:split
DROP TABLE permissions;
--bun:split
ALTER TABLE permissions_new RENAME TO permissions;
--bun:split
CREATE TABLE organization_slugs (
    slug   text NOT NULL PRIMARY KEY,
    org_id text NOT NULL,
    CONSTRAINT organization_slugs_org_key UNIQUE (org_id)
);
--bun:split
INSERT INTO organization_slugs (slug, org_id) SELECT slug, id FROM organizations;
--bun:split
CREATE TABLE identity_provider_audiences_new (
    issuer   text NOT NULL,
    audience text NOT NULL,
    org_id   text NOT NULL,
    PRIMARY KEY (issuer, audience)
);
--bun:split
INSERT INTO identity_provider_audiences_new (issuer, audience, org_id)
SELECT issuer, audience, org_id FROM identity_provider_audiences;
--bun:split
DROP TABLE identity_provider_audiences;
--bun:split
ALTER TABLE identity_provider_audiences_new RENAME TO identity_provider_audiences;
--bun:split
CREATE INDEX identity_provider_audiences_org_idx ON identity_provider_audiences (org_id);
