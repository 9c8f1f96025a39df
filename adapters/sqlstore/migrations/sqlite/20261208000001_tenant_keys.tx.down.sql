DROP TABLE organization_slugs;
--bun:split
CREATE TABLE identity_provider_audiences_old (
    issuer   text NOT NULL,
    audience text NOT NULL,
    org_id   text NOT NULL REFERENCES identity_providers (org_id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, audience)
);
--bun:split
INSERT INTO identity_provider_audiences_old (issuer, audience, org_id)
SELECT a.issuer, a.audience, a.org_id FROM identity_provider_audiences AS a
WHERE EXISTS (SELECT 1 FROM identity_providers AS p WHERE p.org_id = a.org_id);
--bun:split
DROP TABLE identity_provider_audiences;
--bun:split
ALTER TABLE identity_provider_audiences_old RENAME TO identity_provider_audiences;
--bun:split
CREATE INDEX identity_provider_audiences_org_idx ON identity_provider_audiences (org_id);
--bun:split
CREATE TABLE permissions_old (
    id          text        NOT NULL PRIMARY KEY,
    org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  text        NOT NULL,
    updated_at  text        NOT NULL,
    CONSTRAINT permissions_org_key_key UNIQUE (org_id, "key")
);
--bun:split
INSERT INTO permissions_old SELECT id, org_id, "key", description, created_at, updated_at FROM permissions;
--bun:split
DROP TABLE permissions;
--bun:split
ALTER TABLE permissions_old RENAME TO permissions;
--bun:split
CREATE TABLE roles_old (
    id          text        NOT NULL PRIMARY KEY,
    org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  text        NOT NULL,
    updated_at  text        NOT NULL,
    CONSTRAINT roles_org_key_key UNIQUE (org_id, "key")
);
--bun:split
INSERT INTO roles_old SELECT id, org_id, "key", name, description, created_at, updated_at FROM roles;
--bun:split
CREATE TABLE role_grants_old (
    org_id      text    NOT NULL,
    role_key    text    NOT NULL,
    position    integer NOT NULL,
    grant_value text    NOT NULL,
    PRIMARY KEY (org_id, role_key, grant_value),
    FOREIGN KEY (org_id, role_key) REFERENCES roles_old (org_id, "key") ON DELETE CASCADE
);
--bun:split
INSERT INTO role_grants_old SELECT org_id, role_key, position, grant_value FROM role_grants;
--bun:split
DROP TABLE role_grants;
--bun:split
DROP TABLE roles;
--bun:split
ALTER TABLE roles_old RENAME TO roles;
--bun:split
ALTER TABLE role_grants_old RENAME TO role_grants;
--bun:split
CREATE INDEX role_grants_grant_idx ON role_grants (org_id, grant_value);
