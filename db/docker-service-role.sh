#!/bin/sh
# Run once by the postgres image when it creates the database (docker-entrypoint-initdb.d):
# the service role the registry connects as, with its password from the environment (read by
# psql itself, never on a command line). The first `registry db upgrade` grants the role its
# privileges (db/versions/0007_least_privilege.py).
set -eu
: "${REGISTRY_APP_PASSWORD:?set REGISTRY_APP_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv password REGISTRY_APP_PASSWORD
CREATE ROLE registry_app LOGIN PASSWORD :'password';
SQL
