#!/usr/bin/env bash
# Models the PostgreSQL writes of two-step cascades in two store shapes and
# prints PostgreSQL's CPU and WAL per cascade for each: Herald's schema as
# it is (current.sql on `herald migrate`'s tables) and an append-only one
# (append.sql on append-schema.sql). A model of the writes for a design
# decision, not a benchmark of Herald: herald-bench measures Herald.
#
#   bench/pg-shape/run.sh [--url postgres://postgres@127.0.0.1:5432]
#       [--herald target/release/herald] [--duration 20] [--clients 4]
#       [--rounds 2]
#
# Needs psql, pgbench and a PostgreSQL on this machine (its processes' CPU
# is read from /proc, so run it where the server runs, as a user that may
# read them). Each run makes a database of its own and drops it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
url=postgres://postgres@127.0.0.1:5432
herald=$here/../../target/release/herald
duration=20
clients=4
rounds=2
while [ $# -gt 0 ]; do
    case $1 in
        --url) url=$2; shift 2 ;;
        --herald) herald=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$herald" ] || { echo "no herald binary at $herald: cargo build --release -p herald, or --herald" >&2; exit 2; }
per_batch=25 # cascades per pgbench transaction (the scripts' generate_series)
tick=$(getconf CLK_TCK)

# CPU ticks of the whole cluster: its live processes, and the exited
# backends the postmaster has reaped (cutime + cstime).
pg_ticks() {
    local master total=0 pid
    master=$(ps -eo pid=,ppid=,comm= | awk '$3 == "postgres" && $2 == 1 {print $1; exit}')
    for pid in $(ps -eo pid=,comm= | awk '$2 == "postgres" {print $1}'); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo $((total + $(awk '{print $16 + $17}' "/proc/$master/stat")))
}

sql() { PGOPTIONS=--client-min-messages=warning psql -X -q -v ON_ERROR_STOP=1 "$@"; }

run_shape() {
    local shape=$1 db=herald_shape_$1_$$
    sql "$url/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    if [ "$shape" = current ]; then
        "$herald" migrate --database-url "$url/$db" >/dev/null
        sql "$url/$db" -c "INSERT INTO tenants (id, name, api_key_sha256, created_at)
                           VALUES ('t1', 'shape', 'x', 0)" -c "CREATE SEQUENCE shape_batches"
        tables="notifications, attempts, receipts"
    else
        sql "$url/$db" -f "$here/append-schema.sql"
        tables="notifications, attempts, queue, answers, receipts, steps, outcomes"
    fi
    # The node vacuums the rewritten tables itself (autovacuum may be off);
    # both shapes get the same: every table, every 5 s, counted in the CPU.
    ( while sleep 5; do sql "$url/$db" -c "VACUUM (SKIP_LOCKED) $tables" 2>/dev/null || true; done ) &
    local vacuum=$!
    local lsn0 t0 out lsn1 t1
    lsn0=$(psql -X -At "$url/$db" -c "SELECT pg_current_wal_lsn()")
    t0=$(pg_ticks)
    out=$(pgbench -n -f "$here/$shape.sql" -c "$clients" -j 2 -T "$duration" "$url/$db" 2>&1)
    kill "$vacuum" 2>/dev/null; wait "$vacuum" 2>/dev/null || true
    sleep 1 # let the exited backends be reaped into the postmaster's counts
    t1=$(pg_ticks)
    lsn1=$(psql -X -At "$url/$db" -c "SELECT pg_current_wal_lsn()")
    local batches wal
    batches=$(echo "$out" | awk '/number of transactions actually processed/ {print $NF}' | cut -d/ -f1)
    [ -n "$batches" ] && [ "$batches" -gt 0 ] || { echo "$out" >&2; exit 1; }
    wal=$(psql -X -At "$url/$db" -c "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')")
    awk -v s="$shape" -v b="$batches" -v n="$per_batch" -v d="$duration" -v dt=$((t1 - t0)) \
        -v tick="$tick" -v wal="$wal" 'BEGIN {
            c = b * n
            printf "%-8s %12d %12.0f %18.3f %18.0f\n", s, c, c / d, dt * 1000 / tick / c, wal / c
        }'
    sql "$url/postgres" -c "DROP DATABASE $db WITH (FORCE)"
}

printf "%-8s %12s %12s %18s %18s\n" shape cascades cascades/s "PG CPU ms/cascade" "WAL bytes/cascade"
for _ in $(seq "$rounds"); do
    run_shape current
    run_shape append
done
