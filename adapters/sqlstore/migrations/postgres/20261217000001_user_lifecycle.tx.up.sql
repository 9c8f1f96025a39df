-- The user lifecycle: a status (active, deactivated by a platform
-- administrator, or erased: personal fields cleared, the row kept as a
-- tombstone of issuer and subject so the identity is not created again),
-- the user's own metadata (a JSON object of strings, as an organization's)
-- and a version, incremented by every change and shown as the entity tag.
-- Existing users are active, without metadata, at version 1.
ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active'
    CONSTRAINT users_status_check CHECK (status IN ('active', 'deactivated', 'erased'));
--bun:split
ALTER TABLE users ADD COLUMN metadata text NOT NULL DEFAULT '{}';
--bun:split
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
