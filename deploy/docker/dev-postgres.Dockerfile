# syntax=docker/dockerfile:1
# Development only (skaffold `dev` profile): Postgres with what Supabase provides and the
# repository's migrations applied at first start. Production uses Supabase.
#   docker build -f deploy/docker/dev-postgres.Dockerfile -t lessoncall-dev-postgres .
FROM postgres:16-bookworm
COPY supabase/bootstrap/local.sql /lessoncall/bootstrap.sql
COPY supabase/migrations/ /lessoncall/migrations/
COPY deploy/docker/dev-postgres-init.sh /docker-entrypoint-initdb.d/10-lessoncall.sh
USER 999:999
