#!/usr/bin/env bash
# Trigger throughput from a separate load generator: starts a release
# `herald serve` on a fresh SQLite file, configures a tenant (e-mail always
# + SMS fallback, half the e-mails rejected), drives POST /v1/notifications
# with wrk for DURATION seconds at CONNECTIONS connections, then waits for
# every cascade to finish. Needs wrk (apt-get install wrk).
# Usage: bench/http.sh [DURATION=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"; CONNS="${2:-64}"
cargo build --release -q
dir=$(mktemp -d); port=18080; base="http://127.0.0.1:$port"
HERALD_LOG=warn HERALD_ADMIN_TOKEN=bench ./target/release/herald serve --listen 127.0.0.1:$port \
  --database-url "sqlite://$dir/bench.db" > "$dir/serve.log" 2>&1 &
pid=$!; trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
j='Content-Type: application/json'
key=$(curl -sf -X POST "$base/v1/tenants" -H 'Authorization: Bearer bench' -H "$j" -d '{"name":"Bench"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
a="Authorization: Bearer $key"
outcomes=$(python3 -c 'import json; print(json.dumps({f"c{i}@example.com": "rejected" for i in range(0,1000,2)}))')
curl -sf -X PUT "$base/v1/integrations/email" -H "$a" -H "$j" \
  -d "{\"provider\":\"simulator\",\"settings\":{\"record\":false,\"outcomes\":$outcomes}}" >/dev/null
curl -sf -X PUT "$base/v1/integrations/sms" -H "$a" -H "$j" \
  -d '{"provider":"simulator","settings":{"record":false},"confirm":"receipt"}' >/dev/null
curl -sf -X PUT "$base/v1/notification-types/reminder" -H "$a" -H "$j" -d '{"audience":"client",
  "channels":[{"channel":"email","scenario":"always"},{"channel":"sms","scenario":"fallback"}],
  "templates":{"email":{"en":{"subject":"At {{ time }}","body":"Hi {{ name }}"}},"sms":{"en":{"body":"{{ time }}"}}}}' >/dev/null
for i in $(seq 0 999); do
  printf -v phone '+1555%07d' "$i"
  curl -sf -X PUT "$base/v1/clients/c$i" -H "$a" -H "$j" -d "{\"email\":\"c$i@example.com\",\"phone\":\"$phone\"}" >/dev/null
done
start=$(date +%s.%N)
HERALD_API_KEY=$key wrk -t2 -c"$CONNS" -d"${DURATION}s" -s bench/trigger.lua "$base" | tee "$dir/wrk.txt"
while curl -sf "$base/v1/notifications?status=pending&limit=1" -H "$a" | grep -q '"id"'; do sleep 0.1; done
end=$(date +%s.%N)
total=$(grep -Eo '^ *[0-9]+ requests' "$dir/wrk.txt" | grep -Eo '[0-9]+')
echo "cascades finished: $total in $(echo "$end - $start" | bc) s = $(echo "$total / ($end - $start)" | bc)/s"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
