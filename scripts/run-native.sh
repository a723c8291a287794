#!/usr/bin/env bash
# Runs the six binaries natively against a local Postgres, on the contract's
# default ports, exporting to an OTLP receiver at $OTEL_EXPORTER_OTLP_ENDPOINT
# (default http://localhost:4318). When that is unset and nothing listens on
# 4318 (no Collector), it starts trace-store there, which keeps the traces
# and answers Tempo's API on 3200, so `cargo run -p checkout` prints the
# tree. Logs go to .run/<service>.log.
# Ctrl-C (or SIGTERM) stops them all gracefully.
#
#   scripts/run-native.sh            # build (debug) and run
#   PROFILE=release scripts/run-native.sh
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-debug}
services=(card-processor payments notifications users orders gateway)
flag=(); [ "$profile" = release ] && flag=(--release)
# The whole workspace's binaries, as `cargo test --workspace` and the e2e
# suite build them: cargo resolves features over the packages it is asked
# for, so building only these six would pick another feature set and
# compile the dependency tree again.
cargo build "${flag[@]}" --workspace --bins
# The storefront the gateway serves at / (web/dist, its default STOREFRONT_DIR).
if [ ! -f web/dist/index.html ]; then
  (cd web && npm ci --no-audit --no-fund && npm run build)
fi

: "${PGHOST:=localhost}"
export DATABASE_HOST_URL=${DATABASE_HOST_URL:-postgres://postgres:postgres@${PGHOST}:5432}
# As the images set it (Dockerfile).
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
# As compose sets it: Grafana's one-minute rate window holds four pushes
# (at the SDK's default 60 s, most panels would show "No data").
export OTEL_METRIC_EXPORT_INTERVAL=${OTEL_METRIC_EXPORT_INTERVAL:-15000}
mkdir -p .run
pids=()
store_pid=
stop() {
  echo "stopping ${#pids[@]} services"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}"
  # Last, so the services' final flush still lands.
  if [ -n "$store_pid" ]; then kill -TERM "$store_pid" 2>/dev/null || true; wait; fi
}
trap stop INT TERM

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ] && ! listening 4318; then
  "target/$profile/trace-store" >.run/trace-store.log 2>&1 &
  store_pid=$!
  echo "no Collector on localhost:4318: started trace-store (pid $!), log .run/trace-store.log"
  for _ in $(seq 1 50); do listening 4318 && listening 3200 && break; sleep 0.1; done
fi

for service in "${services[@]}"; do
  case $service in
    users|orders|payments|notifications) db=(DATABASE_URL="$DATABASE_HOST_URL/$service") ;;
    *) db=() ;;
  esac
  env "${db[@]}" "target/$profile/$service" >".run/$service.log" 2>&1 &
  pids+=($!)
  echo "started $service (pid $!), log .run/$service.log"
done

for _ in $(seq 1 50); do
  curl -fsS http://localhost:8080/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
echo "gateway: http://localhost:8080 ($(curl -s http://localhost:8080/readyz || echo 'not ready')); open it and click Buy"
echo 'try: cargo run -p checkout   # a checkout, and its trace as a tree'
echo 'or:  curl -si localhost:8080/checkout -H content-type:application/json -d '"'"'{"customer_id":"cus_1001","items":[{"sku":"sku_keyboard","quantity":1}],"card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}'"'"
wait
