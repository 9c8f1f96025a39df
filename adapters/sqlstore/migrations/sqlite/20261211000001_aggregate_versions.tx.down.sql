ALTER TABLE permissions DROP COLUMN version;
--bun:split
ALTER TABLE roles DROP COLUMN version;
--bun:split
ALTER TABLE memberships DROP COLUMN version;
