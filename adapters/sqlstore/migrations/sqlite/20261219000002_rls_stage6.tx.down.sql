-- Row-level security is PostgreSQL's (see the PostgreSQL migration of the
-- same ID): SQLite has none. This migration keeps the two dialects'
-- histories in step.
SELECT 1;
