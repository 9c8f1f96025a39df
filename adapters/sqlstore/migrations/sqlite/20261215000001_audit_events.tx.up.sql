-- The audit log: one row per change, appended in the change's transaction.
-- No foreign key to organizations: events outlive their organization. org_id
-- is '' for user events (users belong to no organization); it leads the
-- primary key, so the table shards by organization like every tenant table. The
-- migration also reserves the permission resource audit (audit:read; see
-- reservedResources in migrate.go).
CREATE TABLE audit_events (
    id                   text    NOT NULL,
    occurred_at          text    NOT NULL,
    org_id               text    NOT NULL DEFAULT '',
    action               text    NOT NULL,
    target_type          text    NOT NULL,
    target_id            text    NOT NULL,
    actor_kind           text    NOT NULL,
    actor_issuer         text    NOT NULL DEFAULT '',
    actor_subject        text    NOT NULL DEFAULT '',
    actor_user_id        text    NOT NULL DEFAULT '',
    actor_platform_admin boolean NOT NULL DEFAULT false,
    changes              text    NOT NULL DEFAULT '[]',
    request_id           text    NOT NULL DEFAULT '',
    trace_id             text    NOT NULL DEFAULT '',
    client_ip            text    NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, id)
);
--bun:split
CREATE INDEX audit_events_org_time ON audit_events (org_id, occurred_at DESC, id DESC);
--bun:split
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
--bun:split
-- Events are never changed or deleted; `orgstack audit prune` drops the
-- delete trigger inside its own transaction and creates it again.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events cannot be changed or deleted');
END;
--bun:split
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events cannot be changed or deleted');
END;
