-- Idempotency keys (draft-ietf-httpapi-idempotency-key-header): one row per
-- completed request sent with a key, written in the transaction of the
-- change it answers. scope is the SHA-256 of issuer, subject, organization,
-- method, route template and key; org_id is the resolved organization ("" for
-- a request that resolved none) and the distribution column. Times are Unix
-- milliseconds. No foreign key: a key outlives its organization until it
-- expires.
CREATE TABLE idempotency_keys (
    org_id       text    NOT NULL,
    scope        bytea   NOT NULL,
    fingerprint  bytea   NOT NULL,
    status       integer NOT NULL,
    content_type text    NOT NULL,
    location     text    NOT NULL,
    etag         text    NOT NULL,
    body         bytea   NOT NULL,
    created_at   bigint  NOT NULL,
    expires_at   bigint  NOT NULL,
    PRIMARY KEY (org_id, scope)
);
--bun:split
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
