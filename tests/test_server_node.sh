#!/bin/sh
# `zeta serve` end to end with the official openai npm client (tests/server/e2e.mjs) and the chat
# page in a headless chromium (tests/server/page.mjs). Starts two servers on free ports with
# models/stories260K.gguf: one plain (--parallel 4), one with --api-key; stops them with SIGTERM at
# the end and fails if one crashed or did not exit 0.
# Skips when the server is not built, under ZETA_EXEC (cross builds), without node >= 18 or without
# tests/server/node_modules (run `npm ci` in tests/server); skips the page only without chromium
# (/usr/bin/chromium, or $CHROMIUM).
BUILD=${BUILD:-build}
ZETA=$BUILD/zeta
MODEL=models/stories260K.gguf
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

if [ -n "$ZETA_EXEC" ]; then echo "skip - server node tests (cross build under ZETA_EXEC)"; exit 0; fi
if [ ! -x "$ZETA" ]; then echo "skip - server node tests ($ZETA is not built)"; exit 0; fi
help=$("$ZETA" serve --help 2>&1); rc=$?
if [ "$rc" -ne 0 ]; then
    case "$help" in
    *"not built"*|*"unknown command"*|*"not available"*|*"without"*)
        echo "skip - server node tests (zeta serve: $(printf '%s\n' "$help" | tail -n 1))"; exit 0 ;;
    esac
    echo "FAIL - server serve --help exited with status $rc: $(printf '%s\n' "$help" | tail -n 1)"; exit 1
fi
if ! command -v node >/dev/null 2>&1; then echo "skip - server node tests (node is not installed)"; exit 0; fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
if [ "${major:-0}" -lt 18 ]; then echo "skip - server node tests (node $(node --version) is older than 18)"; exit 0; fi
if [ ! -d tests/server/node_modules/openai ] || [ ! -d tests/server/node_modules/playwright-core ]; then
    echo "skip - server node tests (no tests/server/node_modules: run npm ci in tests/server)"; exit 0
fi

dir=$(mktemp -d)
# kills the servers still running (those without an exit status yet), then removes $dir
cleanup() {
    for n in plain auth; do
        [ -s "$dir/$n.pid" ] && [ ! -f "$dir/$n.rc" ] && kill -KILL "$(cat "$dir/$n.pid")" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start NAME ARGS...: runs the server in the background; its pid goes to $dir/NAME.pid, its exit
# status (once it exits) to $dir/NAME.rc, its stderr to $dir/NAME.log.
start() {
    name=$1; shift
    (
        sh -c 'echo $$ >"$0"; exec "$@"' "$dir/$name.pid" "$ZETA" serve -m "$MODEL" --host 127.0.0.1 --port 0 "$@" \
            >"$dir/$name.out" 2>"$dir/$name.log" </dev/null
        echo $? >"$dir/$name.rc"
    ) &
}
# wait_listening NAME: prints the port once the server's "listening on" line is there (20 s).
wait_listening() {
    i=0
    while [ $i -lt 200 ]; do
        port=$(sed -n 's|^zeta serve: listening on http://[^ ]*:\([0-9][0-9]*\)/*$|\1|p' "$dir/$1.log" 2>/dev/null | head -n 1)
        if [ -n "$port" ]; then echo "$port"; return 0; fi
        [ -f "$dir/$1.rc" ] && return 1
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
tail_log() { tail -n 5 "$dir/$1.log" | sed 's/^/#   /'; }

key=zeta-test-key-$$
start plain --parallel 4 --ctx-size 2048 --threads 2 --queue 16
start auth --parallel 1 --ctx-size 512 --threads 1 --api-key "$key"
failed=0
for n in plain auth; do
    if port=$(wait_listening $n); then
        echo "ok - server $n starts and listens (port $port)"
        eval "port_$n=$port"
    else
        if [ -f "$dir/$n.rc" ]; then why="exited with status $(cat "$dir/$n.rc")"; else why="no 'listening on' line after 20 s"; fi
        echo "FAIL - server $n did not start: $why"; tail_log $n; failed=1
    fi
done
[ "$failed" -eq 0 ] || exit 1

url=http://127.0.0.1:$port_plain
auth_url=http://127.0.0.1:$port_auth
limit=$((50 * ${ZETA_TEST_TIMEOUT_SCALE:-1}))
to=""; command -v timeout >/dev/null 2>&1 && to="timeout -k 5 $limit"
# node SCRIPT ARGS...: runs tests/server/SCRIPT, shows its lines, and fails if it printed no FAIL
# line but exited non-zero (a crash, a syntax error, the timeout)
run_node() {
    script=$1; shift
    $to node "tests/server/$script" "$@" >"$dir/node.out" 2>&1
    rc=$?
    cat "$dir/node.out"
    [ "$rc" -eq 0 ] && return 0
    failed=1
    if [ "$rc" -eq 124 ]; then echo "FAIL - server $script timed out ($limit s)"
    elif ! grep -q '^FAIL - ' "$dir/node.out"; then echo "FAIL - server $script exited with status $rc"; fi
}
run_node e2e.mjs --url "$url" --model "$(basename "$MODEL")" --slots 4 --auth-url "$auth_url" --api-key "$key"
if [ -x "$CHROMIUM" ]; then
    run_node page.mjs --url "$url" --auth-url "$auth_url" --api-key "$key"
else
    echo "skip - page chat page tests (no chromium at $CHROMIUM: apt-get install chromium)"
fi

# Stop both servers with SIGTERM: each must exit 0 within 5 s (no crash, no hang).
alive=""
for n in plain auth; do
    if [ -f "$dir/$n.rc" ]; then
        echo "FAIL - server $n exited during the tests with status $(cat "$dir/$n.rc")"; tail_log $n; failed=1
    else
        kill -TERM "$(cat "$dir/$n.pid")" 2>/dev/null; alive="$alive $n"
    fi
done
for n in $alive; do
    i=0
    while [ ! -f "$dir/$n.rc" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if [ ! -f "$dir/$n.rc" ]; then
        echo "FAIL - server $n did not exit within 5 s of SIGTERM"; tail_log $n; failed=1
    elif [ "$(cat "$dir/$n.rc")" = 0 ]; then
        echo "ok - server $n exits 0 on SIGTERM"
    else
        echo "FAIL - server $n exited with status $(cat "$dir/$n.rc") on SIGTERM"; tail_log $n; failed=1
    fi
done
[ "$failed" -eq 0 ]
