#!/bin/sh
# Runs once, on the first start of an empty PostgreSQL data volume (docker-entrypoint-initdb.d).
# Each service gets its own database and its own login role that owns only that database, so
# no service can read another's tables (services share events, never schemas).
# Local compose only: every role gets MICROCRED_SERVICE_DB_PASSWORD.
set -eu

: "${MICROCRED_SERVICE_DB_PASSWORD:?MICROCRED_SERVICE_DB_PASSWORD must be set}"

for service in catalog submission review award licensure; do
  psql --no-psqlrc -v ON_ERROR_STOP=1 \
       --username "$POSTGRES_USER" --dbname postgres \
       -v service="$service" -v password="$MICROCRED_SERVICE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
done
