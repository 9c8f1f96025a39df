-- Row-level security is PostgreSQL's (see the PostgreSQL migration of the
-- same ID): SQLite has none, and its database belongs to one process. This
-- migration keeps the two dialects' histories in step.
SELECT 1;
