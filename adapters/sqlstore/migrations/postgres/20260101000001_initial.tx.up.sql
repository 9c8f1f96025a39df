-- ID and key columns are COLLATE "C": they are compared by bytes, as on
-- SQLite and as the stores promise for ordering (ORDER BY x COLLATE "C"),
-- and so their indexes serve those orderings whatever the database's default
-- collation is (en_US.UTF-8 would otherwise force a sort on every list).
-- Free text (names, emails, descriptions) keeps the database collation.
CREATE TABLE organizations (
    id         text        COLLATE "C" PRIMARY KEY,
    slug       text        COLLATE "C" NOT NULL,
    name       text        NOT NULL,
    status     text        NOT NULL,
    metadata   text        NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version    bigint      NOT NULL,
    CONSTRAINT organizations_slug_key UNIQUE (slug)
);
--bun:split
-- Organization lists: the default order (created_at, id).
CREATE INDEX organizations_created_idx ON organizations (created_at, id);
--bun:split
CREATE TABLE users (
    id         text        COLLATE "C" PRIMARY KEY,
    issuer     text        COLLATE "C" NOT NULL,
    subject    text        COLLATE "C" NOT NULL,
    email      text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT users_identity_key UNIQUE (issuer, subject)
);
--bun:split
-- Platform-wide user lists: the default order (created_at, id).
CREATE INDEX users_created_idx ON users (created_at, id);
--bun:split
CREATE TABLE memberships (
    org_id     text        COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    text        COLLATE "C" NOT NULL REFERENCES users (id),
    status     text        COLLATE "C" NOT NULL,
    joined_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
--bun:split
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
--bun:split
-- Member lists: the default order (joined_at, user_id) and, through INCLUDE,
-- every membership column, so a page (and its OFFSET) is an index-only scan.
CREATE INDEX memberships_org_joined_idx ON memberships (org_id, joined_at, user_id) INCLUDE (status, updated_at);
--bun:split
CREATE TABLE membership_roles (
    org_id   text COLLATE "C" NOT NULL,
    user_id  text COLLATE "C" NOT NULL,
    role_key text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, user_id, role_key),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX membership_roles_role_idx ON membership_roles (org_id, role_key);
--bun:split
CREATE TABLE roles (
    id          text        COLLATE "C" PRIMARY KEY,
    org_id      text        COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        COLLATE "C" NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT roles_org_key_key UNIQUE (org_id, "key")
);
--bun:split
CREATE TABLE role_grants (
    org_id      text    COLLATE "C" NOT NULL,
    role_key    text    COLLATE "C" NOT NULL,
    position    integer NOT NULL,
    grant_value text    COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, role_key, grant_value),
    FOREIGN KEY (org_id, role_key) REFERENCES roles (org_id, "key") ON DELETE CASCADE
);
--bun:split
CREATE INDEX role_grants_grant_idx ON role_grants (org_id, grant_value);
--bun:split
CREATE TABLE permissions (
    id          text        COLLATE "C" PRIMARY KEY,
    org_id      text        COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "key"       text        COLLATE "C" NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT permissions_org_key_key UNIQUE (org_id, "key")
);
