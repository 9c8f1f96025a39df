#!/bin/sh
# Creates orgstack_app, the role the OrgStack instances connect as: it owns
# nothing and bypasses nothing, so PostgreSQL's row-level security holds for
# it. `orgstack migrate up` (as the owner, with ORGSTACK_RUNTIME_DB_ROLE)
# grants it the service's privileges. Runs once, on an empty data directory.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$ORGSTACK_APP_DB_PASSWORD" <<'EOSQL'
CREATE ROLE orgstack_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'pw';
EOSQL
