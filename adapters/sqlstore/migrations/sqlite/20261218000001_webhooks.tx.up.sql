-- Webhooks: organizations' endpoints, the transactional outbox of their
-- deliveries and the dispatchers' claims. Before this migration runs,
-- sqlstore refuses to proceed when an organization already uses the newly
-- reserved permission resource webhooks (see reservedResources in
-- migrate.go). Times the dispatcher compares (next_at, until_us,
-- failing_since) are Unix microseconds. Every table is keyed by org_id
-- first, as on PostgreSQL (webhook_attempts: by its rowid).
CREATE TABLE webhooks (
    org_id          text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text        NOT NULL,
    url             text        NOT NULL,
    event_types     text        NOT NULL,
    description     text        NOT NULL,
    enabled         integer     NOT NULL,
    disabled_reason text        NOT NULL,
    secrets         text        NOT NULL,
    failing_since   bigint,
    created_at      text        NOT NULL,
    updated_at      text        NOT NULL,
    version         bigint      NOT NULL,
    PRIMARY KEY (org_id, id)
);
--bun:split
CREATE INDEX webhooks_org_idx ON webhooks (org_id, created_at, id);
--bun:split
-- One row per endpoint: the hold of the dispatcher delivering to it. A row
-- apart from webhooks, so that holding it never blocks a change.
CREATE TABLE webhook_claims (
    org_id     text   NOT NULL,
    webhook_id text   NOT NULL,
    token      text   NOT NULL,
    until_us   bigint NOT NULL,
    PRIMARY KEY (org_id, webhook_id),
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX webhook_claims_until_idx ON webhook_claims (until_us);
--bun:split
CREATE TABLE webhook_sequences (
    org_id text   NOT NULL PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    value  bigint NOT NULL
);
--bun:split
CREATE TABLE webhook_events (
    org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id          text        NOT NULL,
    seq         bigint      NOT NULL,
    type        text        NOT NULL,
    subject     text        NOT NULL,
    occurred_at text        NOT NULL,
    data        text        NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, seq)
);
--bun:split
CREATE TABLE webhook_deliveries (
    org_id     text        NOT NULL,
    id         text        NOT NULL,
    webhook_id text        NOT NULL,
    event_id   text        NOT NULL,
    seq        bigint      NOT NULL,
    status     text        NOT NULL,
    attempts   integer     NOT NULL,
    next_at    bigint      NOT NULL,
    created_at text        NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, event_id) REFERENCES webhook_events (org_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id, seq, id) WHERE status = 'pending';
--bun:split
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, created_at, id);
--bun:split
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (org_id, event_id);
--bun:split
CREATE TABLE webhook_attempts (
    org_id      text        NOT NULL,
    id          integer     PRIMARY KEY AUTOINCREMENT,
    delivery_id text        NOT NULL,
    at          text        NOT NULL,
    status_code integer     NOT NULL,
    error_class text        NOT NULL,
    duration_us bigint      NOT NULL,
    excerpt     text        NOT NULL,
    FOREIGN KEY (org_id, delivery_id) REFERENCES webhook_deliveries (org_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
