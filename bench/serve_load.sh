#!/bin/sh
# Load and soak test of `zeta serve` (loopback only, bounded in time and count). Not a test of the
# suite: it takes minutes and its figures go to docs/RELIABILITY.md.
#
#   bench/serve_load.sh [MODEL]       (default: the 30M model in ../shared, else stories260K)
#
# 1. load: wrk, CONNS connections (default 32) for DURATION seconds (default 60) of POST
#    /v1/chat/completions (max_tokens 16), server with --parallel PARALLEL --queue QUEUE; every
#    response's status is counted (a Lua hook), latency percentiles from wrk. Pass: no 5xx, no
#    crash, every non-2xx a 429.
# 2. during the load: 8 curl streams (half cut off after 0.2 s), 2 slow readers (2 KB/s), 20 each
#    of oversized (2 MB: 413), malformed (400) and wrongly typed (400) bodies.
# 3. burst: more concurrent requests than slots + queue: the excess gets 429.
# 4. soak: SOAK requests (default 5000) from 4 parallel curl loops; resident memory (VmRSS) read
#    after the first 10 % (warm-up) and at the end; pass: growth < 2 %.
# Needs wrk and curl (Debian: apt-get install wrk curl).
set -u
cd "$(dirname "$0")/.." || exit 1
ZETA=${ZETA:-build/zeta}
MODEL=${1:-../shared/goldens/models/zeta-demo-30m-F16.gguf}
[ -f "$MODEL" ] || MODEL=models/stories260K.gguf
CONNS=${CONNS:-32}
DURATION=${DURATION:-60}
PARALLEL=${PARALLEL:-2}
QUEUE=${QUEUE:-64}
SOAK=${SOAK:-5000}
tmp=$(mktemp -d)
trap 'kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

"$ZETA" serve -m "$MODEL" --port 0 --parallel "$PARALLEL" --queue "$QUEUE" -c 512 >"$tmp/server.log" 2>&1 &
spid=$!
port=
for _ in $(seq 1 300); do
    port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\)$|\1|p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "server did not start"; cat "$tmp/server.log"; exit 1; }
url=http://127.0.0.1:$port
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(nproc) cores, model $MODEL"
echo "# server: --parallel $PARALLEL --queue $QUEUE -c 512; $(sed -n 's/^zeta serve: \(.*kernels.*\)/\1/p' "$tmp/server.log")"

cat >"$tmp/load.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"messages":[{"role":"user","content":"Tell me about the sea."}],"max_tokens":16,"temperature":0.7}'
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local line = "statuses:"
  for k, v in pairs(total) do line = line .. " " .. k .. "=" .. v end
  print(line)
  print(string.format("latency_ms p50=%.1f p90=%.1f p99=%.1f max=%.1f", latency:percentile(50) / 1000,
        latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  print(string.format("requests=%d errors connect=%d read=%d write=%d timeout=%d status=%d", summary.requests,
        summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))
end
EOF
# per-thread counts: wrk runs init/response in each thread's Lua state; `counts` is read in done()

# during the load: slow readers, oversized and malformed bodies (their statuses are checked)
head -c 2000000 /dev/zero | tr '\0' 'a' >"$tmp/big"
( sleep 3
  for i in 1 2; do
      curl -sN --limit-rate 2k -o /dev/null -w '%{http_code} slow\n' "$url/v1/chat/completions" \
          -d '{"messages":[{"role":"user","content":"Slowly"}],"max_tokens":200,"stream":true}' >>"$tmp/side" 2>/dev/null &
  done
  for i in $(seq 1 20); do
      curl -s -o /dev/null -w '%{http_code} oversized\n' "$url/v1/chat/completions" --data-binary @"$tmp/big" >>"$tmp/side"
      curl -s -o /dev/null -w '%{http_code} malformed\n' "$url/v1/chat/completions" -d '{"messages":[{"role":' >>"$tmp/side"
      curl -s -o /dev/null -w '%{http_code} wrongtype\n' "$url/v1/chat/completions" -d '{"messages":"x"}' >>"$tmp/side"
  done; wait ) &
spid_side=$!

# streaming clients with disconnects, during the load
( sleep 5
  for i in 1 2 3 4 5 6 7 8; do
      if [ $((i % 2)) = 0 ]; then
          timeout 0.2 curl -sN "$url/v1/chat/completions" -d '{"messages":[{"role":"user","content":"Go on"}],"max_tokens":400,"stream":true}' >/dev/null 2>&1 &
      else
          curl -sN "$url/v1/chat/completions" -d '{"messages":[{"role":"user","content":"Go on"}],"max_tokens":32,"stream":true}' >"$tmp/stream$i" 2>/dev/null &
      fi
  done; wait ) &
spid_streams=$!

echo "## load: wrk -t2 -c$CONNS -d${DURATION}s"
wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 30s -s "$tmp/load.lua" "$url/v1/chat/completions" | tee "$tmp/wrk.out" | sed -n '/statuses/,$p'
wait $spid_streams 2>/dev/null
wait $spid_side 2>/dev/null
echo "side requests during the load (status kind: count): $(sort "$tmp/side" | uniq -c | awk '{printf "%s %s: %s; ", $2, $3, $1}')"
done_streams=0
for i in 1 3 5 7; do grep -q 'data: \[DONE\]' "$tmp/stream$i" 2>/dev/null && done_streams=$((done_streams + 1)); done
echo "streams completed during the load: $done_streams of 4 (the other 4 disconnected after 0.2 s)"
kill -0 $spid 2>/dev/null && echo "server alive after the load" || echo "SERVER DIED"
curl -s "$url/metrics" | grep -E '^zeta_(responses_total|requests_(rejected|cancelled)_total|disconnect_release_ms_max|slots_busy|queue_depth)'

# beyond the queue: a burst of more concurrent requests than slots + queue gets designed 429s
echo "## burst: $((PARALLEL + QUEUE + 16)) concurrent requests (slots $PARALLEL + queue $QUEUE + 16)"
bp=""
for i in $(seq 1 $((PARALLEL + QUEUE + 16))); do
    curl -s -o /dev/null -w '%{http_code}\n' "$url/v1/completions" -d '{"prompt":"Burst","max_tokens":64}' >>"$tmp/burst" &
    bp="$bp $!"
done
for p in $bp; do wait "$p"; done
echo "burst statuses: $(sort "$tmp/burst" | uniq -c | awk '{printf "%s=%s ", $2, $1}')"

echo "## soak: $SOAK requests, 4 parallel clients"
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$spid/status; }
per=$((SOAK / 4))
warm=$((per / 10))
soak_client() { # n: sequential requests, alternating streaming and not
    j=0
    while [ $j -lt "$1" ]; do
        if [ $((j % 2)) = 0 ]; then
            curl -s -o /dev/null -w '%{http_code}\n' "$url/v1/completions" -d "{\"prompt\":\"Number $j\",\"max_tokens\":8}"
        else
            curl -sN -o /dev/null -w '%{http_code}\n' "$url/v1/chat/completions" -d "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi $j\"}],\"max_tokens\":8,\"stream\":true}"
        fi
        j=$((j + 1))
    done
}
soak_round() { # n: 4 clients of n requests each; waits for them (not for the server)
    cp=""
    for c in 1 2 3 4; do soak_client "$1" >>"$tmp/soak.codes" & cp="$cp $!"; done
    for p in $cp; do wait "$p"; done
}
soak_round $warm
rss0=$(rss)
soak_round $((per - warm))
rss1=$(rss)
echo "requests: $(wc -l <"$tmp/soak.codes"); statuses: $(sort "$tmp/soak.codes" | uniq -c | awk '{printf "%s=%s ", $2, $1}')"
echo "VmRSS after warm-up ${rss0} KiB, at the end ${rss1} KiB: growth $(awk -v a="$rss0" -v b="$rss1" 'BEGIN{printf "%.2f", (b-a)*100/a}') %"
kill -TERM $spid; wait $spid; echo "server exit status $?"
