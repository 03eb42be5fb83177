#!/bin/sh
# One-shot schema job of the postgres profile (temporalio/admin-tools): creates Temporal's two
# databases and brings their schemas to the version this admin-tools release ships. Idempotent:
# a database whose schema is already versioned is only upgraded, so `docker compose up` can run
# it on every start (and after an image upgrade it migrates).
set -eu

schema_root=/etc/temporal/schema/postgresql/v12

sql_tool() {
  # The password comes from SQL_PASSWORD in the environment.
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

setup() {
  db=$1
  dir=$schema_root/$2/versioned
  if sql_tool --db "$db" update-schema -d "$dir"; then
    echo "database $db: schema up to date"
    return
  fi
  echo "database $db: creating it and its schema"
  sql_tool --db "$db" create
  sql_tool --db "$db" setup-schema -v 0.0
  sql_tool --db "$db" update-schema -d "$dir"
}

setup temporal temporal
setup temporal_visibility visibility
echo "Temporal schema ready"
