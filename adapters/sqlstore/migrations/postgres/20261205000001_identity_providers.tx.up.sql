-- Organizations' own identity providers (one per organization). Before this
-- migration runs, sqlstore refuses to proceed when an organization already
-- uses the newly reserved permission resource identity_provider (see
-- reservedResources in migrate.go).
CREATE TABLE identity_providers (
    org_id         text        COLLATE "C" PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    issuer         text        COLLATE "C" NOT NULL,
    config         text        NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    version        bigint      NOT NULL,
    change_version bigint      NOT NULL
);
--bun:split
CREATE INDEX identity_providers_issuer_idx ON identity_providers (issuer);
--bun:split
-- (issuer, audience) is unique across organizations: one row per accepted
-- audience.
CREATE TABLE identity_provider_audiences (
    issuer   text COLLATE "C" NOT NULL,
    audience text COLLATE "C" NOT NULL,
    org_id   text COLLATE "C" NOT NULL REFERENCES identity_providers (org_id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, audience)
);
--bun:split
CREATE INDEX identity_provider_audiences_org_idx ON identity_provider_audiences (org_id);
--bun:split
-- The last change of each organization's provider, for propagation polling.
-- No foreign key: the row outlives a deleted provider or organization.
CREATE TABLE identity_provider_changes (
    org_id         text    COLLATE "C" PRIMARY KEY,
    change_version bigint  NOT NULL UNIQUE,
    deleted        boolean NOT NULL
);
--bun:split
-- One row: the last change version handed out. Taking the next one locks
-- the row, so change versions commit in increasing order.
CREATE TABLE identity_provider_counter (
    id    integer PRIMARY KEY CHECK (id = 1),
    value bigint  NOT NULL
);
--bun:split
INSERT INTO identity_provider_counter (id, value) VALUES (1, 0);
