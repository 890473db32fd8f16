#!/bin/sh
# Runs once, when the postgres container starts on an empty data directory (the official
# image runs /docker-entrypoint-initdb.d/* as POSTGRES_USER, which owns the database and
# runs the migrations). Creates the login role web, worker and beat connect as; it owns
# nothing and gets its rights from `manage.py db_grant_app_role` (deploy/postgres/roles.sql).
#
# On an existing data directory, run it by hand once:
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-app-role.sh
set -eu

: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}"
# The name docker-compose.yml puts in the app services' DATABASE_URL.
APP_ROLE=clinic_app

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_role="$APP_ROLE" -v db="$POSTGRES_DB" -v app_password="$POSTGRES_APP_PASSWORD" <<'EOSQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
ALTER ROLE :"app_role" WITH LOGIN PASSWORD :'app_password';
-- Only the owner creates objects (PostgreSQL 15 already revokes this from PUBLIC).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app_role";
EOSQL
