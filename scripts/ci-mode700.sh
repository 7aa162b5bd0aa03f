#!/usr/bin/env bash
# The first minute on a new machine, as CI proves it (SPEC §12): a clone inside a mode-700
# folder (as root, the postgres user cannot enter it, like a clone in /root), then
#   1. `npm ci` and `npm start` with the default DATA_DIR, until /health/ready answers; a root
#      login; SIGTERM; a clean exit (0);
#   2. `npm test`'s database start there: jest's global setup (the embedded PostgreSQL) with
#      test/foundation.e2e-spec.ts.
# Exits non-zero when either fails. Ports are picked free; nothing is left behind.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
home=$(mktemp -d "${TMPDIR:-/tmp}/canopy-mode700-XXXXXX")
chmod 700 "$home"
clone="$home/canopy"
log="$home/start.log"
npm_pid=""

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

cleanup() {
  if [ -n "$npm_pid" ] && kill -0 "$npm_pid" 2>/dev/null; then kill -TERM -- "-$npm_pid" 2>/dev/null || true; sleep 2; fi
  # Where the embedded PostgreSQL put this clone's data (see src/database/embedded-postgres.ts).
  local placed
  placed=$(node -e 'const p=require("path").resolve(process.argv[1]);console.log(require("crypto").createHash("sha256").update(p).digest("hex").slice(0,12))' "$clone/.data/pg")
  rm -rf "/var/lib/canopy/data-$placed" "${TMPDIR:-/tmp}/canopy/data-$placed" "$home"
}
trap cleanup EXIT

echo "-- clone into $home (mode 700), npm ci"
git clone -q "$src" "$clone"
cd "$clone"
npm ci --no-audit --no-fund --prefer-offline >/dev/null

port=$(free_port)
pg_port=$(free_port)
echo "-- npm start (PORT=$port, EMBEDDED_PG_PORT=$pg_port, DATA_DIR default)"
# Its own process group (setsid), so that cleanup can reach everything behind npm.
PORT=$port HOST=127.0.0.1 EMBEDDED_PG_PORT=$pg_port ROOT_PASSWORD=ci-root-password LOG_LEVEL=info \
  setsid npm start >"$log" 2>&1 &
npm_pid=$!

fail() {
  echo "FAILED: $1"
  echo "--- npm start output (last 40 lines):"
  tail -n 40 "$log" | cut -c1-400
  exit 1
}

ready=""
for _ in $(seq 1 360); do
  if ! kill -0 "$npm_pid" 2>/dev/null; then fail "npm start exited before it was ready"; fi
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.5
done
[ -n "$ready" ] || fail "not ready after 180 s"
grep -q 'Canopy is ready' "$log" || fail "no 'Canopy is ready' line"
if [ "$(id -u)" = 0 ]; then
  grep -q 'embedded PostgreSQL: the postgres user cannot enter' "$log" || fail "no line saying where the embedded PostgreSQL was put"
fi
grep -E '^\s+at ' "$log" >/dev/null && fail "a stack trace in the output"

code=$(curl -sS -o "$home/login.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d '{"login":"root","password":"ci-root-password"}' "http://127.0.0.1:$port/v1/auth/login")
[ "$code" = 200 ] || fail "root login answered $code: $(cat "$home/login.json")"
grep -q '"accessToken"' "$home/login.json" || fail "no access token in the login answer"
echo "-- ready, root logged in; SIGTERM"

# SIGTERM to Canopy itself (the node process under npm), as a service manager would send it.
node_pid=$(pgrep -f -s "$npm_pid" '^node (--[^ ]+ )*dist/src/main.js' | head -n 1)
[ -n "$node_pid" ] || fail "cannot find the node process under npm start"
kill -TERM "$node_pid"
set +e
wait "$npm_pid"
status=$?
set -e
npm_pid=""
[ "$status" = 0 ] || fail "npm start exited with $status after SIGTERM"
grep -q '"msg":"stopped"' "$log" || fail "no clean stop in the log"
echo "-- npm start: clean exit"

echo "-- npm test's database start in the same clone (test/foundation.e2e-spec.ts)"
npx jest test/foundation.e2e-spec.ts --ci
echo "-- mode-700 clone: all good"
