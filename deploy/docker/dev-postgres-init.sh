#!/usr/bin/env bash
# Runs once, on an empty data directory: the Supabase bootstrap, then every migration in
# order, recorded where the Supabase CLI (and services/kit's migrate) record them.
set -euo pipefail
psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --no-psqlrc --quiet)

"${psql[@]}" -f /lessoncall/bootstrap.sql
for file in $(ls /lessoncall/migrations/*.sql | sort); do
  base=$(basename "$file" .sql)
  version=${base%%_*}
  name=${base#*_}
  echo "lessoncall: applying migration $base"
  "${psql[@]}" --single-transaction -f "$file"
  "${psql[@]}" -v version="$version" -v name="$name" <<'SQL'
insert into supabase_migrations.schema_migrations (version, name) values (:'version', :'name')
on conflict (version) do nothing;
SQL
done
