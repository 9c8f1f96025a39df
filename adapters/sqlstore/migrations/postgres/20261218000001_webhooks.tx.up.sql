-- Webhooks: organizations' endpoints, the transactional outbox of their
-- deliveries and the dispatchers' claims. Before this migration runs,
-- sqlstore refuses to proceed when an organization already uses the newly
-- reserved permission resource webhooks (see reservedResources in
-- migrate.go). Times the dispatcher compares (next_at, until_us,
-- failing_since) are Unix microseconds.
CREATE TABLE webhooks (
    id              text        COLLATE "C" PRIMARY KEY,
    org_id          text        COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url             text        NOT NULL,
    event_types     text        NOT NULL,
    description     text        NOT NULL,
    enabled         boolean     NOT NULL,
    disabled_reason text        NOT NULL,
    secrets         text        NOT NULL,
    failing_since   bigint,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    version         bigint      NOT NULL
);
--bun:split
CREATE INDEX webhooks_org_idx ON webhooks (org_id, created_at, id);
--bun:split
-- One row per endpoint: the hold of the dispatcher delivering to it. A row
-- apart from webhooks, so that holding it never blocks a change.
CREATE TABLE webhook_claims (
    webhook_id text   COLLATE "C" PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    token      text   NOT NULL,
    until_us   bigint NOT NULL
);
--bun:split
CREATE TABLE webhook_sequences (
    org_id text   COLLATE "C" PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    value  bigint NOT NULL
);
--bun:split
CREATE TABLE webhook_events (
    id          text        COLLATE "C" PRIMARY KEY,
    org_id      text        COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    type        text        NOT NULL,
    subject     text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        text        NOT NULL,
    UNIQUE (org_id, seq)
);
--bun:split
CREATE TABLE webhook_deliveries (
    id         text        COLLATE "C" PRIMARY KEY,
    webhook_id text        COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    org_id     text        COLLATE "C" NOT NULL,
    event_id   text        COLLATE "C" NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    status     text        NOT NULL,
    attempts   integer     NOT NULL,
    next_at    bigint      NOT NULL,
    created_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id, seq, id) WHERE status = 'pending';
--bun:split
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, created_at, id);
--bun:split
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
--bun:split
CREATE TABLE webhook_attempts (
    id          bigserial   PRIMARY KEY,
    delivery_id text        COLLATE "C" NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    status_code integer     NOT NULL,
    error_class text        NOT NULL,
    duration_us bigint      NOT NULL,
    excerpt     text        NOT NULL
);
--bun:split
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
