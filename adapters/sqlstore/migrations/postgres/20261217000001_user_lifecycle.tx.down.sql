ALTER TABLE users DROP COLUMN version;
--bun:split
ALTER TABLE users DROP COLUMN metadata;
--bun:split
ALTER TABLE users DROP COLUMN status;
