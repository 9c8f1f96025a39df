-- Organizations' own identity providers (one per organization). Before this
-- migration runs, sqlstore refuses to proceed when an organization already
-- uses the newly reserved permission resource identity_provider (see
-- reservedResources in migrate.go).
CREATE TABLE identity_providers (
    org_id         text    NOT NULL PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    issuer         text    NOT NULL,
    config         text    NOT NULL,
    created_at     text    NOT NULL,
    updated_at     text    NOT NULL,
    version        integer NOT NULL,
    change_version integer NOT NULL
);
--bun:split
CREATE INDEX identity_providers_issuer_idx ON identity_providers (issuer);
--bun:split
CREATE TABLE identity_provider_audiences (
    issuer   text NOT NULL,
    audience text NOT NULL,
    org_id   text NOT NULL REFERENCES identity_providers (org_id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, audience)
);
--bun:split
CREATE INDEX identity_provider_audiences_org_idx ON identity_provider_audiences (org_id);
--bun:split
CREATE TABLE identity_provider_changes (
    org_id         text    NOT NULL PRIMARY KEY,
    change_version integer NOT NULL UNIQUE,
    deleted        integer NOT NULL
);
--bun:split
CREATE TABLE identity_provider_counter (
    id    integer NOT NULL PRIMARY KEY CHECK (id = 1),
    value integer NOT NULL
);
--bun:split
INSERT INTO identity_provider_counter (id, value) VALUES (1, 0);
