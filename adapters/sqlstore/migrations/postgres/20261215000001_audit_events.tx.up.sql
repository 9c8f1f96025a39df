-- The audit log: one row per change, appended in the change's transaction.
-- No foreign key to organizations: events outlive their organization. org_id
-- is '' for user events (users belong to no organization); it leads the
-- primary key, so the table shards by organization like every tenant table. The
-- migration also reserves the permission resource audit (audit:read; see
-- reservedResources in migrate.go).
CREATE TABLE audit_events (
    id                   text        NOT NULL,
    occurred_at          timestamptz NOT NULL,
    org_id               text        NOT NULL DEFAULT '',
    action               text        NOT NULL,
    target_type          text        NOT NULL,
    target_id            text        NOT NULL,
    actor_kind           text        NOT NULL,
    actor_issuer         text        NOT NULL DEFAULT '',
    actor_subject        text        NOT NULL DEFAULT '',
    actor_user_id        text        NOT NULL DEFAULT '',
    actor_platform_admin boolean     NOT NULL DEFAULT false,
    changes              jsonb       NOT NULL DEFAULT '[]',
    request_id           text        NOT NULL DEFAULT '',
    trace_id             text        NOT NULL DEFAULT '',
    client_ip            text        NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, id)
);
--bun:split
CREATE INDEX audit_events_org_time ON audit_events (org_id, occurred_at DESC, id DESC);
--bun:split
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
--bun:split
-- Events are never changed or deleted: the trigger refuses UPDATE, DELETE
-- and TRUNCATE to every role. Only the table's owner can switch it off (ALTER
-- TABLE ... DISABLE TRIGGER needs ownership), which is what `orgstack audit
-- prune` does inside its own transaction.
CREATE FUNCTION audit_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events cannot be changed or deleted' USING ERRCODE = 'insufficient_privilege';
END
$$;
--bun:split
CREATE TRIGGER audit_events_immutable BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_immutable();
--bun:split
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_immutable();
