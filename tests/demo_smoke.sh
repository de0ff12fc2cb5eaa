#!/usr/bin/env bash
# Runs the README's demo (baton with no --brokers) to the end of the bundled scenario and checks
# what it printed and what /metrics served while it ran. Usage: demo_smoke.sh BATON_BINARY
set -euo pipefail
baton=${1:?usage: demo_smoke.sh BATON_BINARY}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$baton" --exit-when-idle 4 --metrics-address "127.0.0.1:$port" >"$work/out" 2>"$work/err" &
pid=$!

fail() { echo "demo_smoke: $*"; echo "--- stdout"; cat "$work/out"; echo "--- stderr"; tail -30 "$work/err"; exit 1; }

# /metrics is served while the demo runs, and shows the handoff and every event of the scenario
# consumed once they have been committed (the handoff can commit before the last events do).
served() { grep -q '^baton_routed_leads_total 1$' "$work/metrics" &&
  grep -q '^baton_events_consumed_total{topic="abm.engagement.v1"} 69$' "$work/metrics"; }
deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics" 2>/dev/null && served; do
  ((SECONDS < deadline)) || fail "/metrics never showed the handoff and 69 engagement events consumed"
  kill -0 "$pid" 2>/dev/null || fail "baton exited before /metrics showed the handoff and every event"
  sleep 0.5
done

wait "$pid" || fail "baton exited with $?"
pid=

grep -q '^baton: embedded Kafka (librdkafka mock cluster, demo only) at 127.0.0.1:[0-9]*$' "$work/out" \
  || fail "no bootstrap address printed"
[[ $(grep -c '^LEAD ' "$work/out") == 1 ]] || fail "expected exactly one LEAD line"
grep -q '^LEAD  acc-halcyon  Halcyon Freight Systems (TIER_1) -> AE ae-maria | tier1-email-opens-and-pricing v1 SALES_READY | 3 email opens by contact c-hal-001 in 14d' "$work/out" \
  || fail "the Halcyon lead is missing or different"
[[ $(grep -c '^ALERT ' "$work/out") == 2 ]] || fail "expected exactly two ALERT lines"
grep -q '^ALERT HANDOFF INFO acc-halcyon -> ae-maria ' "$work/out" || fail "no HANDOFF alert"
grep -q '^ALERT ROUTING_FAILURE CRITICAL acc-verdant -> mkt-jonas ' "$work/out" || fail "no ROUTING_FAILURE alert"
! grep -q '^DEAD ' "$work/out" || fail "the bundled scenario must not dead-letter anything"
grep -q '^baton_events_consumed_total{topic="abm.crm.v1"} 31$' "$work/metrics" || fail "crm count"
grep -q '^baton_events_consumed_total{topic="abm.engagement.v1"} 69$' "$work/metrics" || fail "engagement count"
grep -q '^baton_events_duplicate_total 2$' "$work/metrics" || fail "duplicate count"
# Personal data never reaches the logs: no contact email from the scenario appears on stderr.
if grep -qiE '[a-z0-9._-]+@[a-z0-9.-]+\.(com|example|io|net|org)' "$work/err"; then
  fail "an email address appeared in the logs"
fi
echo "demo_smoke: 1 lead, 2 alerts, 0 dead letters, metrics served — ok"
