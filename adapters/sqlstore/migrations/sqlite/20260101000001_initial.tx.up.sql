CREATE TABLE organizations (
    id         text        NOT NULL PRIMARY KEY,
    slug       text        NOT NULL,
    name       text        NOT NULL,
    status     text        NOT NULL,
    metadata   text        NOT NULL DEFAULT '{}',
    created_at text        NOT NULL,
    updated_at text        NOT NULL,
    version    integer     NOT NULL,
    CONSTRAINT organizations_slug_key UNIQUE (slug)
);
--bun:split
-- Organization lists: the default order (created_at, id).
CREATE INDEX organizations_created_idx ON organizations (created_at, id);
--bun:split
CREATE TABLE users (
    id         text        NOT NULL PRIMARY KEY,
    issuer     text        NOT NULL,
    subject    text        NOT NULL,
    email      text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    created_at text        NOT NULL,
    updated_at text        NOT NULL,
    CONSTRAINT users_identity_key UNIQUE (issuer, subject)
);
--bun:split
-- Platform-wide user lists: the default order (created_at, id).
CREATE INDEX users_created_idx ON users (created_at, id);
--bun:split
CREATE TABLE memberships (
    org_id     text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    text        NOT NULL REFERENCES users (id),
    status     text        NOT NULL,
    joined_at  text        NOT NULL,
    updated_at text        NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
--bun:split
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
--bun:split
CREATE INDEX memberships_org_joined_idx ON memberships (org_id, joined_at, user_id);
--bun:split
CREATE TABLE membership_roles (
    org_id   text NOT NULL,
    user_id  text NOT NULL,
    role_key text NOT NULL,
    PRIMARY KEY (org_id, user_id, role_key),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX membership_roles_role_idx ON membership_roles (org_id, role_key);
--bun:split
CREATE TABLE roles (
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
CREATE TABLE role_grants (
    org_id      text    NOT NULL,
    role_key    text    NOT NULL,
    position    integer NOT NULL,
    grant_value text    NOT NULL,
    PRIMARY KEY (org_id, role_key, grant_value),
    FOREIGN KEY (org_id, role_key) REFERENCES roles (org_id, "key") ON DELETE CASCADE
);
--bun:split
CREATE INDEX role_grants_grant_idx ON role_grants (org_id, grant_value);
--bun:split
CREATE TABLE permissions (
    id          text        NOT NULL PRIMARY KEY,
    org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  text        NOT NULL,
    updated_at  text        NOT NULL,
    CONSTRAINT permissions_org_key_key UNIQUE (org_id, "key")
);
