-- Idempotency keys: see the PostgreSQL migration of the same name.
CREATE TABLE idempotency_keys (
    org_id       TEXT    NOT NULL,
    scope        BLOB    NOT NULL,
    fingerprint  BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    location     TEXT    NOT NULL,
    etag         TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (org_id, scope)
);
--bun:split
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
