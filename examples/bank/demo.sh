#!/usr/bin/env bash
# demo.sh BINARY: the `make demo` walk-through of the CQRS example. Starts
# estoria-bank (BINARY) on the embedded SQLite default (sqlite:data/bank.db,
# relative to the current folder; BANK_DEMO_STORE overrides it) on a free
# loopback port, drives it with curl (commands, the on-demand summary, the read
# model with read-your-writes, errors, health and metrics), stops it with
# SIGTERM and checks that it exited 0. Bounded in time; exits 0 on success.
set -euo pipefail

bin=${1:?usage: demo.sh PATH/TO/estoria-bank}
store=${BANK_DEMO_STORE:-sqlite:data/bank.db}
command -v curl >/dev/null || { echo "demo: curl is required" >&2; exit 1; }
[ -x "$bin" ] || { echo "demo: $bin is not an executable" >&2; exit 1; }

work=$(mktemp -d /tmp/estoria-bank-demo.XXXXXX)
log="$work/server.log"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "demo: FAILED: $*" >&2
  echo "---- server output ----" >&2
  cat "$log" >&2 || true
  exit 1
}

"$bin" --store "$store" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 300); do  # up to 30 s
  grep -q "listening on http://" "$log" && break
  kill -0 "$pid" 2>/dev/null || fail "the server exited at start-up"
  sleep 0.1
done
base=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1)
[ -n "$base" ] || fail "the server did not start listening within 30 s"

echo "==== estoria-bank started; its start-up message: ===="
cat "$log"
echo "==== A short session against $base ===="

id=$(cat /proc/sys/kernel/random/uuid)
# step EXPECTED_STATUS DESCRIPTION CURL_ARGS...: runs curl, prints the exchange,
# checks the status code.
step() {
  local expected=$1 what=$2
  shift 2
  echo
  echo "# $what"
  local shown="" a
  for a in "$@"; do
    if [[ $a =~ [^A-Za-z0-9_/:.=,-] ]]; then shown+=" '$a'"; else shown+=" $a"; fi
  done
  echo "\$ curl$shown"
  local status
  status=$(curl -s --max-time 10 -D "$work/headers" -o "$work/body" -w '%{http_code}' "$@") || fail "curl failed: $*"
  grep -i -E '^(HTTP/|etag|x-global-position|retry-after)' "$work/headers" | tr -d '\r'
  if [ -s "$work/body" ]; then head -c 600 "$work/body" | sed -e '$a\'; fi
  [ "$status" = "$expected" ] || fail "expected HTTP $expected, got $status"
}

step 204 "Deposit 100 into a new account (ETag = the account's version)" \
  -X POST "$base/accounts/$id/balance" -H 'Content-Type: application/json' -d '{"amount": 100}'
step 204 "Withdraw 30, only if the account is still at version 1 (If-Match)" \
  -X POST "$base/accounts/$id/balance" -H 'If-Match: "1"' -d '{"amount": -30}'
position=$(grep -i '^x-global-position:' "$work/headers" | tr -d '\r' | awk '{print $2}')
step 412 "The same If-Match again: the account has moved on" \
  -X POST "$base/accounts/$id/balance" -H 'If-Match: "1"' -d '{"amount": -30}'
step 422 "Withdraw more than the balance: refused, nothing appended" \
  -X POST "$base/accounts/$id/balance" -d '{"amount": -1000}'
step 400 "Malformed JSON" -X POST "$base/accounts/$id/balance" -d '{"amount": '
step 200 "The on-demand projection: folded from the account's events now" "$base/accounts/$id/summary"
step 200 "The read model, after waiting until it has reached our write (min_position=$position)" \
  "$base/accounts/$id?min_position=$position"
step 200 "List the read model (accounts with at least 50)" "$base/accounts?limit=5&min_balance=50&min_position=$position"
step 200 "Health" "$base/healthz"
echo
echo "# Metrics (a few lines of $base/metrics)"
curl -s --max-time 10 "$base/metrics" | grep -E '^estoria_bank_(appends_total|conflicts_total|projection_position|store_head_position|projection_lag_events|http_requests_total\{method="POST",route="/accounts/\{id\}/balance")' ||
  fail "no metrics"

echo
echo "==== Stopping the server with SIGTERM ===="
kill -TERM "$pid"
code=""
for _ in $(seq 150); do  # up to 15 s
  if ! kill -0 "$pid" 2>/dev/null; then
    set +e
    wait "$pid"
    code=$?
    set -e
    break
  fi
  sleep 0.1
done
[ -n "$code" ] || fail "the server did not stop within 15 s"
pid=""
tail -n 2 "$log"
[ "$code" = 0 ] || fail "the server exited with status $code"
echo
echo "Done. Run it yourself with: $bin   (then the curl commands above, on http://127.0.0.1:8080)"
echo "Data is kept in ${store#sqlite:}; see $bin --help for PostgreSQL and the other flags."
