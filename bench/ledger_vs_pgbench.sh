#!/usr/bin/env bash
# The ledger's throughput beside pgbench's on the same PostgreSQL server.
#
#   bench/ledger_vs_pgbench.sh          (from the repo root; needs pgbench and .venv)
#
# 1. pgbench: a scratch database guardpay_pgbench (dropped first if it exists),
#    `pgbench -i -s 10`, then the built-in tpcb-like script with 8 clients on 2 threads
#    for PGBENCH_SECONDS (default 30); its tps is read from the
#    "tps = N (without initial connection time)" line.
# 2. guardpay: `guardpay bench ledger --backend postgres --transfers TRANSFERS --json`
#    (default 200000) in a throwaway schema on the same server.
# 3. One JSON object on stdout:
#    {"pgbench_tps", "ledger_transfers_per_second", "ratio", "pgbench": {...}, "ledger": {...}}
#    where ratio = ledger transfers per second / pgbench tps. The scratch database is
#    dropped on the way out, also on failure. Progress goes to stderr.
#
# The server is GUARDPAY_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test.
# Set PGBENCH to use another pgbench binary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
GUARDPAY=.venv/bin/guardpay
PGBENCH=${PGBENCH:-pgbench}
URL=${GUARDPAY_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}
DURATION=${PGBENCH_SECONDS:-30}
TRANSFERS=${TRANSFERS:-200000}
SCALE=10
CLIENTS=8
THREADS=2
SCRATCH=guardpay_pgbench

log() { printf '%s\n' "$*" >&2; }

for tool in "$PY" "$GUARDPAY"; do
    [[ -x $tool ]] || { log "missing $tool: run 'make test' (or build .venv) first"; exit 2; }
done
command -v "$PGBENCH" >/dev/null || { log "pgbench not found (set PGBENCH)"; exit 2; }
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || { log "PGBENCH_SECONDS must be a positive integer"; exit 2; }
[[ $TRANSFERS =~ ^[1-9][0-9]*$ ]] || { log "TRANSFERS must be a positive integer"; exit 2; }

# Host, port, user, password and database of the URL, as shell assignments.
PARTS=$("$PY" - "$URL" <<'EOF'
import shlex
import sys
from urllib.parse import unquote, urlsplit

u = urlsplit(sys.argv[1])
if u.scheme.split("+")[0] not in ("postgresql", "postgres"):
    sys.exit(f"not a PostgreSQL URL: {u.scheme}://...")
parts = {
    "PG_HOST": u.hostname or "127.0.0.1",
    "PG_PORT": str(u.port or 5432),
    "PG_USER": unquote(u.username or "postgres"),
    "PG_PASSWORD": unquote(u.password or ""),
    "PG_DB": unquote(u.path.lstrip("/")) or "postgres",
}
for key, value in parts.items():
    print(f"{key}={shlex.quote(value)}")
EOF
)
eval "$PARTS"

# libpq reads these: pgbench and the admin connections below use the same server.
export PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=$PG_USER
if [[ -n $PG_PASSWORD ]]; then
    export PGPASSWORD=$PG_PASSWORD
fi
export GUARDPAY_TEST_POSTGRES_URL=$URL  # the ledger's throwaway schema: the same server

# Run one statement with autocommit on the URL's database (CREATE/DROP DATABASE need it).
admin_sql() {
    "$PY" - "$PG_DB" "$1" <<'EOF'
import sys

import psycopg

with psycopg.connect(dbname=sys.argv[1], autocommit=True) as conn:
    conn.execute(sys.argv[2])
EOF
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ledger_vs_pgbench.XXXXXX")
cleanup() {
    admin_sql "DROP DATABASE IF EXISTS $SCRATCH" >/dev/null 2>&1 \
        || log "warning: could not drop database $SCRATCH"
    rm -rf "$WORK"
}
trap cleanup EXIT

PG_ARGS=(-h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER")

# -- 1. pgbench ---------------------------------------------------------------------------
log "pgbench: creating $SCRATCH on $PG_HOST:$PG_PORT and initialising at scale $SCALE"
admin_sql "DROP DATABASE IF EXISTS $SCRATCH"
admin_sql "CREATE DATABASE $SCRATCH"
"$PGBENCH" "${PG_ARGS[@]}" -i -s "$SCALE" -q "$SCRATCH" >"$WORK/pgbench-init.log" 2>&1 \
    || { cat "$WORK/pgbench-init.log" >&2; exit 1; }
log "pgbench: tpcb-like, $CLIENTS clients, $THREADS threads, ${DURATION}s"
"$PGBENCH" "${PG_ARGS[@]}" -b tpcb-like -c "$CLIENTS" -j "$THREADS" -T "$DURATION" "$SCRATCH" \
    >"$WORK/pgbench.log" 2>&1 || { cat "$WORK/pgbench.log" >&2; exit 1; }
PGBENCH_TPS=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\).*/\1/p' \
    "$WORK/pgbench.log")
if [[ -z $PGBENCH_TPS ]]; then
    log "no 'tps = N (without initial connection time)' line in pgbench's output:"
    cat "$WORK/pgbench.log" >&2
    exit 1
fi
PGBENCH_VERSION=$("$PGBENCH" --version)
log "pgbench: $PGBENCH_TPS tps"
admin_sql "DROP DATABASE IF EXISTS $SCRATCH"  # free the server before the ledger runs

# -- 2. the ledger ------------------------------------------------------------------------
log "guardpay bench ledger: $TRANSFERS transfers on PostgreSQL (throwaway schema)"
"$GUARDPAY" bench ledger --backend postgres --transfers "$TRANSFERS" --json >"$WORK/ledger.json"

# -- 3. one JSON object -------------------------------------------------------------------
export PGBENCH_TPS PGBENCH_VERSION SCALE CLIENTS THREADS DURATION SCRATCH
"$PY" - "$WORK/pgbench.log" "$WORK/ledger.json" <<'EOF'
import json
import os
import re
import sys

with open(sys.argv[1]) as f:
    log = f.read()
with open(sys.argv[2]) as f:
    ledger = json.load(f)


def find(pattern: str) -> float | None:
    m = re.search(pattern, log, re.MULTILINE)
    return float(m.group(1)) if m else None


env = os.environ
pgbench_tps = float(env["PGBENCH_TPS"])
ledger_tps = ledger["transfers_per_second"]
processed = find(r"^number of transactions actually processed: (\d+)")
failed = find(r"^number of failed transactions: (\d+)")
print(json.dumps({
    "pgbench_tps": round(pgbench_tps, 1),
    "ledger_transfers_per_second": ledger_tps,
    "ratio": round(ledger_tps / pgbench_tps, 2),
    "pgbench": {
        "script": "tpcb-like (built-in: 3 UPDATE, 1 SELECT, 1 INSERT per transaction)",
        "scale": int(env["SCALE"]),
        "clients": int(env["CLIENTS"]),
        "threads": int(env["THREADS"]),
        "seconds": int(env["DURATION"]),
        "database": env["SCRATCH"],
        "server": f"{env['PGHOST']}:{env['PGPORT']}",
        "version": env["PGBENCH_VERSION"],
        "transactions": None if processed is None else int(processed),
        "failed_transactions": None if failed is None else int(failed),
        "latency_average_ms": find(r"^latency average = ([0-9.]+) ms"),
    },
    "ledger": ledger,
}, indent=2))
EOF
