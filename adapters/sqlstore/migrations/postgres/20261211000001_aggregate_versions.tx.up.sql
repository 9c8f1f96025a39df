-- Versions on members, custom roles and custom permissions, as
-- organizations have had from the start: every change increments the
-- version; the API shows it as the entity tag (ETag) and compares If-Match
-- with it in the transaction that writes. Existing rows start at 1.
ALTER TABLE memberships ADD COLUMN version bigint NOT NULL DEFAULT 1;
--bun:split
ALTER TABLE roles ADD COLUMN version bigint NOT NULL DEFAULT 1;
--bun:split
ALTER TABLE permissions ADD COLUMN version bigint NOT NULL DEFAULT 1;
