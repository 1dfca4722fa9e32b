#!/bin/sh
# zeta serve driven with curl: the routes, OpenAI response shapes, the bad-request table (status code
# and error code of every refusal), the API key, the body limit, the queue limit (429), a client
# disconnect cancelling its generation, prefix reuse across chat turns, and a clean SIGTERM.
# Needs curl; skipped (with a reason) when the server is not built, in a cross build, or without curl.
BUILD=${BUILD:-build}
ZETA=$BUILD/zeta
MODEL=models/stories260K.gguf
pass=0
fail=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; }

if [ -n "$ZETA_EXEC" ]; then echo "skip - zeta serve (cross build under emulation)"; exit 0; fi
if ! command -v curl >/dev/null 2>&1; then echo "skip - zeta serve (curl is not installed)"; exit 0; fi
if "$ZETA" serve --help 2>&1 | grep -q "built without the server"; then
    echo "skip - zeta serve (built without libmicrohttpd/jansson)"; exit 0
fi

tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

# start NAME ARGS...: starts a server, waits for its "listening" line, sets $url
start() {
    name=$1; shift
    "$ZETA" serve -m "${SMODEL:-$MODEL}" --port 0 "$@" >"$tmp/$name.log" 2>&1 &
    pid=$!
    pids="$pids $pid"
    i=0
    while [ $i -lt 200 ]; do
        port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\)$|\1|p' "$tmp/$name.log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    if [ -z "$port" ]; then bad "server $name started"; cat "$tmp/$name.log"; exit 1; fi
    url=http://127.0.0.1:$port
    eval "pid_$name=$pid url_$name=$url"
}

# req NAME EXPECTED_STATUS EXPECTED_FRAGMENT METHOD PATH [curl args...]
req() {
    name=$1 want=$2 frag=$3 method=$4 path=$5; shift 5
    got=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" "$@" "$url$path")
    if [ "$got" = "$want" ] && grep -q -- "$frag" "$tmp/body"; then ok "$name ($want)"
    else bad "$name: expected $want with '$frag', got $got: $(head -c 300 "$tmp/body")"; fi
}
post() { n=$1 w=$2 f=$3 p=$4 b=$5; shift 5; req "$n" "$w" "$f" POST "$p" -H 'Content-Type: application/json' -d "$b" "$@"; }

start main --parallel 2 -c 256
C=/v1/chat/completions
P=/v1/completions

# ---- routes and shapes
req "GET /health" 200 '"status":"ok"' GET /health
req "GET /v1/models lists the model" 200 '"id":"stories260K.gguf"' GET /v1/models
req "GET / serves the chat page" 200 '<html' GET /
req "GET /metrics" 200 'zeta_slots_total 2' GET /metrics
post "completion" 200 '"object":"text_completion"' $P '{"prompt":"Once upon a time","max_tokens":8,"temperature":0}'
if grep -q '"finish_reason":"length"' "$tmp/body" && grep -q '"completion_tokens":8' "$tmp/body" &&
   grep -q '"total_tokens":' "$tmp/body"; then ok "completion: finish_reason length, usage"
else bad "completion: finish_reason/usage: $(cat "$tmp/body")"; fi
# greedy continuation of the shipped model (the same text zeta run gives)
want=$("$ZETA" run -m "$MODEL" -p "Once upon a time" -n 8 --temp 0 2>/dev/null)
got=$(python3 -c 'import json,sys; print("Once upon a time"+json.load(open(sys.argv[1]))["choices"][0]["text"])' "$tmp/body")
if [ "$got" = "$want" ]; then ok "completion text equals zeta run's greedy text"
else bad "completion text: '$got' vs zeta run '$want'"; fi
post "chat completion" 200 '"object":"chat.completion"' $C '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4}'
grep -q '"role":"assistant"' "$tmp/body" && ok "chat: assistant message" || bad "chat: assistant message: $(cat "$tmp/body")"
post "model named as listed" 200 '"choices"' $P '{"model":"stories260K.gguf","prompt":"Hi","max_tokens":2}'
post "model named without .gguf" 200 '"choices"' $P '{"model":"stories260K","prompt":"Hi","max_tokens":2}'

# streaming: role chunk first, deltas, finish chunk, usage chunk, [DONE]
curl -sN "$url$C" -d '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' >"$tmp/sse"
if python3 - "$tmp/sse" <<'EOF'
import json, sys
ev = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
assert ev[-1] == "[DONE]", ev[-1]
ch = [json.loads(e) for e in ev[:-1]]
assert ch[0]["choices"][0]["delta"]["role"] == "assistant"
assert ch[-2]["choices"][0]["finish_reason"] == "length"
assert ch[-1]["choices"] == [] and ch[-1]["usage"]["completion_tokens"] == 6
text = "".join(c["choices"][0]["delta"].get("content", "") for c in ch[:-1])
assert len(text) > 0
EOF
then ok "stream: role chunk, deltas, finish, usage, [DONE]"; else bad "stream shape: $(head -c 600 "$tmp/sse")"; fi
# the streamed text equals the non-streamed one (greedy)
post "chat greedy" 200 '"choices"' $C '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"temperature":0}'
if python3 - "$tmp/sse" "$tmp/body" <<'EOF'
import json, sys
ev = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")][:-1]
text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in ev if json.loads(e)["choices"])
body = json.load(open(sys.argv[2]))
assert body["choices"][0]["message"]["content"] == text, (body, text)
EOF
then ok "stream text equals non-stream text"; else bad "stream text differs from non-stream text"; fi
# seeds: same seed, same text
post "seed 1" 200 '"choices"' $P '{"prompt":"Once","max_tokens":16,"temperature":1,"seed":42}'
cp "$tmp/body" "$tmp/s1"
post "seed 2" 200 '"choices"' $P '{"prompt":"Once","max_tokens":16,"temperature":1,"seed":42}'
a=$(sed 's/"id":"[^"]*","object":"[^"]*","created":[0-9]*//' "$tmp/s1"); b=$(sed 's/"id":"[^"]*","object":"[^"]*","created":[0-9]*//' "$tmp/body")
[ "$a" = "$b" ] && ok "same seed gives the same text" || bad "same seed: $a vs $b"
# stop string: cut before it, finish_reason stop
post "stop string" 200 '"finish_reason":"stop"' $P '{"prompt":"Once upon a time","max_tokens":40,"temperature":0,"stop":[" girl"]}'
grep -q '"text":", there was a little"' "$tmp/body" && ok "stop: text ends before the stop string" ||
    bad "stop: $(cat "$tmp/body")"

# ---- prefix reuse: the second turn of a chat evaluates only its new tokens
post "turn 1" 200 '"choices"' $C '{"messages":[{"role":"user","content":"Tell me a story about a cat."}],"max_tokens":8,"temperature":0}'
reply=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"]))' "$tmp/body")
post "turn 2" 200 '"cached_tokens"' $C "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story about a cat.\"},{\"role\":\"assistant\",\"content\":$reply},{\"role\":\"user\",\"content\":\"And then?\"}],\"max_tokens\":4,\"temperature\":0}"
if python3 -c '
import json,sys; u=json.load(open(sys.argv[1]))["usage"]
c=u["prompt_tokens_details"]["cached_tokens"]; assert c >= 15 and c < u["prompt_tokens"], u' "$tmp/body"
then ok "turn 2 reuses turn 1's tokens (usage.prompt_tokens_details.cached_tokens)"
else bad "turn 2 reuse: $(cat "$tmp/body")"; fi

# ---- the bad-request table
post "invalid JSON" 400 '"code":"invalid_json"' $C '{"messages":'
post "body not an object" 400 '"code":"invalid_type"' $C '[1,2]'
post "duplicate keys" 400 '"code":"invalid_json"' $C '{"messages":[],"messages":[]}'
post "invalid UTF-8" 400 '"code":"invalid_json"' $C "$(printf '{"messages":[{"role":"user","content":"\377"}]}')"
post "messages missing" 400 '"param":"messages"' $C '{"max_tokens":3}'
post "messages not an array" 400 '"code":"invalid_type"' $C '{"messages":"hi"}'
post "messages empty" 400 '"code":"invalid_value"' $C '{"messages":[]}'
post "message not an object" 400 '"param":"messages\[0\]"' $C '{"messages":[3]}'
post "role missing" 400 '"param":"messages\[0\].role"' $C '{"messages":[{"content":"x"}]}'
post "unknown role" 400 '"code":"invalid_value"' $C '{"messages":[{"role":"wizard","content":"x"}]}'
post "content missing" 400 '"param":"messages\[0\].content"' $C '{"messages":[{"role":"user"}]}'
post "content a number" 400 '"code":"invalid_type"' $C '{"messages":[{"role":"user","content":5}]}'
post "content image part" 400 'only text is supported' $C '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}'
post "content with NUL" 400 'NUL' $C '{"messages":[{"role":"user","content":"a\u0000b"}]}'
post "max_tokens a string" 400 '"param":"max_tokens"' $C '{"messages":[{"role":"user","content":"x"}],"max_tokens":"8"}'
post "max_tokens 0" 400 '"param":"max_tokens"' $C '{"messages":[{"role":"user","content":"x"}],"max_tokens":0}'
post "temperature 3" 400 '"param":"temperature"' $C '{"messages":[{"role":"user","content":"x"}],"temperature":3}'
post "top_p negative" 400 '"param":"top_p"' $C '{"messages":[{"role":"user","content":"x"}],"top_p":-0.5}'
post "n 2" 400 '"param":"n"' $C '{"messages":[{"role":"user","content":"x"}],"n":2}'
post "seed a string" 400 '"param":"seed"' $C '{"messages":[{"role":"user","content":"x"}],"seed":"7"}'
post "stream a string" 400 '"param":"stream"' $C '{"messages":[{"role":"user","content":"x"}],"stream":"yes"}'
post "stream_options a number" 400 '"param":"stream_options"' $C '{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":1}'
post "stop a number" 400 '"param":"stop"' $C '{"messages":[{"role":"user","content":"x"}],"stop":12}'
post "five stop strings" 400 'at most 4' $C '{"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}'
post "mode a number" 400 '"param":"mode"' $C '{"messages":[{"role":"user","content":"x"}],"mode":1}'
post "unknown mode" 400 'one of standard, variational, ultimate, sparse' $C '{"messages":[{"role":"user","content":"x"}],"mode":"turbo"}'
post "gated mode without a sparsity file" 400 'started without --sparsity' $P '{"prompt":"Hi","max_tokens":2,"mode":"ultimate"}'
post "mode standard" 200 '"choices"' $P '{"prompt":"Hi","max_tokens":2,"mode":"standard"}'
post "unknown model" 404 '"code":"model_not_found"' $C '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}'
post "prompt missing" 400 '"param":"prompt"' $P '{"max_tokens":3}'
post "prompt of token ids" 400 '"param":"prompt"' $P '{"prompt":[1,2,3]}'
post "prompt longer than the context" 400 '"code":"context_length_exceeded"' $P \
    "{\"prompt\":\"$(printf 'word %.0s' $(seq 1 400))\"}"
req "GET on a POST route" 405 '"code":"method_not_allowed"' GET $C
req "POST on a GET route" 405 '"code":"method_not_allowed"' POST /v1/models -d '{}'
req "unknown route" 404 '"code":"not_found"' GET /v2/everything
head -c 1100000 /dev/zero | tr '\0' 'a' >"$tmp/big"
req "body over the limit" 413 '"code":"request_too_large"' POST $C -H 'Content-Type: application/json' --data-binary @"$tmp/big"
req "chunked body over the limit" 413 '"code":"request_too_large"' POST $C -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big"
kill -0 "$pid_main" 2>/dev/null && ok "server alive after the bad requests" || bad "server died"

# ---- API key
start keyed --api-key s3cret
req "no key: 401" 401 '"code":"invalid_api_key"' GET /v1/models
req "wrong key: 401" 401 '"type":"authentication_error"' GET /v1/models -H 'Authorization: Bearer nope'
req "right key" 200 '"object":"list"' GET /v1/models -H 'Authorization: Bearer s3cret'
req "/health needs no key" 200 '"status":"ok"' GET /health
req "/metrics needs the key" 401 'invalid_api_key' GET /metrics
post "completion with key" 200 '"choices"' $P '{"prompt":"Hi","max_tokens":2}' -H 'Authorization: Bearer s3cret'

# ---- one slot, no queue: a second request while the first generates gets 429; the first one's
# client leaving cancels its generation and frees the slot
start single --parallel 1 --queue 0 -c 32768
curl -sN "$url$P" -d '{"prompt":"Once","max_tokens":30000,"stream":true}' >"$tmp/long" 2>/dev/null &
cpid=$!
i=0; while [ $i -lt 100 ] && ! grep -q '"text"' "$tmp/long" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
post "second request while the only slot is busy" 429 '"code":"queue_full"' $P '{"prompt":"Hi","max_tokens":2}'
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
i=0
while [ $i -lt 100 ]; do
    curl -s "$url/metrics" >"$tmp/m"
    grep -q '^zeta_requests_cancelled_total 1$' "$tmp/m" && grep -q '^zeta_slots_busy 0$' "$tmp/m" && break
    sleep 0.05; i=$((i + 1))
done
if grep -q '^zeta_requests_cancelled_total 1$' "$tmp/m" && grep -q '^zeta_slots_busy 0$' "$tmp/m"; then
    ok "a disconnecting client cancels its generation and frees the slot"
else bad "disconnect: $(grep -v '^#' "$tmp/m" | tr '\n' ' ')"; fi
gen=$(sed -n 's/^zeta_tokens_generated_total //p' "$tmp/m")
[ "${gen:-30000}" -lt 30000 ] && ok "the cancelled generation stopped early ($gen of 30000 tokens)" || bad "generated $gen tokens"
post "the slot serves the next request" 200 '"choices"' $P '{"prompt":"Hi","max_tokens":2}'
grep -q '^zeta_requests_rejected_total 1$' "$tmp/m" && ok "metrics count the 429" || bad "429 not counted"

# ---- SIGTERM: clean exit
kill -TERM "$pid_main"
i=0; while [ $i -lt 50 ] && kill -0 "$pid_main" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid_main" 2>/dev/null; then bad "SIGTERM: still running after 5 s"
else wait "$pid_main"; rc=$?; [ "$rc" = 0 ] && ok "SIGTERM: exit status 0" || bad "SIGTERM: exit status $rc"; fi

# ---- variational gating in the server: the counters reach /metrics (zeta synth's tiny shape, whose
# matrices have multiples of 32 rows as the sparse layout needs, calibrated here on a short text)
TINY=$tmp/tiny.gguf
"$ZETA" synth --shape tiny --type q8_0 --seed 3 -o "$TINY" >/dev/null 2>&1
printf 'a bc the abc sab ce a the bcs ' >"$tmp/cal.txt"
i=0; while [ $i -lt 6 ]; do cat "$tmp/cal.txt" "$tmp/cal.txt" >"$tmp/cal2.txt"; mv "$tmp/cal2.txt" "$tmp/cal.txt"; i=$((i + 1)); done
if "$ZETA" calibrate -m "$TINY" -f "$tmp/cal.txt" -c 32 -o "$tmp/tiny.sparsity" >"$tmp/cal.log" 2>&1; then
    SMODEL=$TINY start gated --mode variational --sparsity "$tmp/tiny.sparsity"
    post "completion in variational mode" 200 '"choices"' $P '{"prompt":"a b","max_tokens":12,"temperature":0}'
    # the request's own counters in usage.zeta_gating: steps = sparse + dense, a step per generated token after the first
    if python3 - "$tmp/body" <<'EOF'
import json, sys
u = json.load(open(sys.argv[1]))["usage"]
g = u["zeta_gating"]
assert g["mode"] == "variational", g
assert g["steps"] == g["sparse_steps"] + g["dense_steps"] and g["steps"] >= u["completion_tokens"] - 1 > 0, (g, u)
assert abs(g["sparse_ratio"] - g["sparse_steps"] / g["steps"]) < 1e-9, g
assert abs(g["fallback_rate"] - g["fallbacks"] / g["steps"]) < 1e-9 and g["fallbacks"] <= g["sparse_steps"], g
assert (g["avg_energy_ratio"] > 0) == (g["sparse_steps"] > 0) and g["avg_energy_ratio"] <= 1, g
assert "drafted" not in g, g
k = g["kept"]  # the achieved share of each input kind kept (1 - activation sparsity), over the sparse steps
assert sorted(k) == ["attn_in", "attn_out", "ffn_in", "ffn_mid"] and all(0 < v <= 1 for v in k.values()), k
EOF
    then ok "usage.zeta_gating: the variational request's own steps"; else bad "usage.zeta_gating (variational): $(cat "$tmp/body")"; fi
    curl -s "$url/metrics" >"$tmp/m"
    steps=$(sed -n 's/^zeta_decode_steps_total //p' "$tmp/m"); sp=$(sed -n 's/^zeta_sparse_steps_total //p' "$tmp/m")
    de=$(sed -n 's/^zeta_dense_steps_total //p' "$tmp/m")
    fb=$(sed -n 's/^zeta_fallbacks_total //p' "$tmp/m"); fr=$(sed -n 's/^zeta_fallback_rate //p' "$tmp/m")
    python3 -c "import sys; f, s, r = map(float, sys.argv[1:]); sys.exit(0 if abs(r - f / s) < 1e-4 else 1)" "${fb:-x}" "${steps:-0}" "${fr:-x}" 2>/dev/null &&
        ok "zeta_fallback_rate = fallbacks / steps ($fb / $steps)" || bad "zeta_fallback_rate $fr, fallbacks $fb, steps $steps"
    [ "$(grep -c '^zeta_kept_fraction{input="\(attn_in\|attn_out\|ffn_in\|ffn_mid\)"} \(0\.[0-9]*[1-9]\|1\.0*\)$' "$tmp/m")" = 4 ] &&
        ok "zeta_kept_fraction for the four input kinds" || bad "kept fractions: $(grep '^zeta_kept' "$tmp/m")"
    if [ "${steps:-0}" -gt 0 ] && [ $((sp + de)) = "$steps" ]; then
        ok "gating counters in /metrics: $steps steps = $sp sparse + $de dense"
    else bad "gating counters: $(grep -E '^zeta_(decode|sparse|dense)' "$tmp/m" | tr '\n' ' ')"; fi
    SMODEL=$TINY start ult --mode ultimate --sparsity "$tmp/tiny.sparsity"
    post "ultimate mode, greedy" 200 '"choices"' $P '{"prompt":"a b","max_tokens":12,"temperature":0}'
    cp "$tmp/body" "$tmp/ult"
    post "ultimate mode, sampling (speculative)" 200 '"choices"' $P '{"prompt":"a b","max_tokens":12,"temperature":0.8,"seed":3}'
    # standard by default, with the sparsity file: a request chooses its own mode
    SMODEL=$TINY start std --sparsity "$tmp/tiny.sparsity" --backend cpu
    post "standard mode, greedy" 200 '"choices"' $P '{"prompt":"a b","max_tokens":12,"temperature":0}'
    a=$(sed 's/.*"text":"\([^"]*\)".*/\1/' "$tmp/ult"); b=$(sed 's/.*"text":"\([^"]*\)".*/\1/' "$tmp/body")
    [ "$a" = "$b" ] && ok "ultimate mode's greedy text equals standard mode's" || bad "ultimate '$a' vs standard '$b'"
    curl -s "$url/metrics" >"$tmp/m"
    grep -q '^zeta_draft_tokens_total 0$' "$tmp/m" && ok "standard requests draft nothing" || bad "drafts in standard mode: $(grep '^zeta_draft_tokens' "$tmp/m")"
    grep -q zeta_gating "$tmp/body" && bad "a standard request reports zeta_gating: $(cat "$tmp/body")" ||
        ok "a standard request's usage has no zeta_gating"
    post "a request in ultimate mode on a standard server" 200 '"choices"' $P '{"prompt":"a b","max_tokens":12,"temperature":0,"mode":"ultimate"}'
    if python3 - "$tmp/body" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))["usage"]["zeta_gating"]
assert g["mode"] == "ultimate" and g["drafted"] > 0 and 0 <= g["accepted"] <= g["drafted"] and g["verifications"] > 0, g
assert abs(g["acceptance_rate"] - g["accepted"] / g["drafted"]) < 1e-9, g
assert abs(g["mean_accepted"] - g["accepted"] / g["verifications"]) < 1e-9, g
EOF
    then ok "usage.zeta_gating: the ultimate request's drafts and acceptance"; else bad "usage.zeta_gating (ultimate): $(cat "$tmp/body")"; fi
    um=$(sed 's/.*"text":"\([^"]*\)".*/\1/' "$tmp/body")
    curl -s "$url/metrics" >"$tmp/m"
    dr=$(sed -n 's/^zeta_draft_tokens_total //p' "$tmp/m")
    [ "$um" = "$a" ] && [ "${dr:-0}" -gt 0 ] && ok "the request's ultimate mode drafted $dr tokens and gave standard's text" ||
        bad "request mode ultimate: '$um' vs ultimate's '$a', $dr drafted"
    post "the next request is standard again" 200 '"choices"' $P '{"prompt":"a b","max_tokens":12,"temperature":0}'
    curl -s "$url/metrics" >"$tmp/m"
    [ "$(sed -n 's/^zeta_draft_tokens_total //p' "$tmp/m")" = "$dr" ] && ok "the server's mode is back for requests without one" ||
        bad "drafts after a standard request: $(grep '^zeta_draft_tokens' "$tmp/m")"
    post "a streamed ultimate request's usage chunk carries zeta_gating" 200 '"zeta_gating":{"mode":"ultimate"' $P \
        '{"prompt":"a b","max_tokens":6,"temperature":0,"mode":"ultimate","stream":true,"stream_options":{"include_usage":true}}'
else bad "zeta calibrate on the tiny model: $(tail -n 1 "$tmp/cal.log")"; fi
"$ZETA" serve -m "$MODEL" --mode variational >"$tmp/e" 2>&1 && bad "--mode variational without --sparsity accepted" ||
    { grep -q "needs --sparsity" "$tmp/e" && ok "--mode variational without --sparsity refused" || bad "mode: $(cat "$tmp/e")"; }

# startup errors
"$ZETA" serve -m /nonexistent.gguf --port 0 >"$tmp/e" 2>&1 && bad "missing model accepted" ||
    { grep -q nonexistent "$tmp/e" && ok "missing model: error names the file" || bad "missing model: $(cat "$tmp/e")"; }
"$ZETA" serve -m "$MODEL" --chat-template nope >"$tmp/e" 2>&1 && bad "unknown template accepted" ||
    { grep -q "unknown template" "$tmp/e" && ok "unknown --chat-template refused" || bad "template: $(cat "$tmp/e")"; }
"$ZETA" serve -m "$MODEL" --backend gpu >"$tmp/e" 2>&1 && bad "--backend gpu accepted" ||
    { grep -q "is not a backend (auto, cpu, cuda)" "$tmp/e" && ok "unknown --backend refused" || bad "backend: $(cat "$tmp/e")"; }
if ldd "$ZETA" 2>/dev/null | grep -q cudart; then echo "skip - serve --backend cuda in a CUDA build (it would start the server)"
else "$ZETA" serve -m "$MODEL" --backend cuda --port 0 >"$tmp/e" 2>&1 && bad "--backend cuda accepted without CUDA" ||
    { grep -q "rebuild with make CUDA=1" "$tmp/e" && ok "--backend cuda in a build without CUDA: rebuild with make CUDA=1" || bad "backend cuda: $(cat "$tmp/e")"; }; fi
"$ZETA" serve -m "$MODEL" --mode turbo >"$tmp/e" 2>&1 && bad "--mode turbo accepted" ||
    { grep -q "is not a mode (standard, variational, ultimate, sparse)" "$tmp/e" && ok "unknown --mode refused" || bad "mode: $(cat "$tmp/e")"; }
exit 0
