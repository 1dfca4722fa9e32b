#!/bin/sh
# bench/cuda_kv.sh — run ON THE GPU MACHINE from the repository root, after make CUDA=1: decode and
# prompt speed of the CUDA backend per KV cache type (f16, q8_0, q4_0 for K and V) at several depths
# (tokens already in the cache), on a TinyLlama-1.1B-shaped random Q4_0 model (zeta synth, once,
# into /tmp/zeta-cuda-models). With LB=/path/to/llama-bench (a CUDA build of llama.cpp, never
# committed), llama-bench runs the same file, types and depths (-fa 1 -ngl 99), alternating with
# ZetaLm per type. Raw JSON in $OUT; the last lines are a table of t/s and ratios.
#
#   DEPTHS=0,4096,16384 REPS=3 sh bench/cuda_kv.sh
#
# Environment [defaults]: DEPTHS [0,4096,16384], TYPES ["f16 q8_0 q4_0"], REPS [3], PP [512], TG [128],
# SHAPE [tinyllama-1.1b], WTYPE [q4_0], LB [none], OUT [/tmp/cuda_kv].
set -u
OUT=${OUT:-/tmp/cuda_kv}
mkdir -p "$OUT"
M=/tmp/zeta-cuda-models
mkdir -p $M
DEPTHS=${DEPTHS:-0,4096,16384}
TYPES=${TYPES:-"f16 q8_0 q4_0"}
REPS=${REPS:-3}
PP=${PP:-512}
TG=${TG:-128}
SHAPE=${SHAPE:-tinyllama-1.1b}
WTYPE=${WTYPE:-q4_0}
LB=${LB:-}
Z=./build-cuda/zeta
MODEL=$M/$SHAPE-$WTYPE.gguf
[ -f "$MODEL" ] || $Z synth --shape "$SHAPE" --type "$WTYPE" -o "$MODEL" > "$OUT/synth.log" 2>&1 || { cat "$OUT/synth.log"; exit 1; }
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
    echo "zeta: $Z bench --backend cuda -m $MODEL -p $PP -n $TG -r $REPS -d $DEPTHS -ctk T -ctv T -o json"
    [ -n "$LB" ] && echo "llama: $LB -m $MODEL -p $PP -n $TG -r $REPS -d $DEPTHS -ctk T -ctv T -fa 1 -ngl 99 -o json"
} | tee "$OUT/machine.txt"
for t in $TYPES; do
    $Z bench --backend cuda -m "$MODEL" -p "$PP" -n "$TG" -r "$REPS" -d "$DEPTHS" -ctk $t -ctv $t -o json > "$OUT/zeta-$t.json" 2> "$OUT/zeta-$t.err" ||
        tail -3 "$OUT/zeta-$t.err"
    [ -n "$LB" ] && { $LB -m "$MODEL" -p "$PP" -n "$TG" -r "$REPS" -d "$DEPTHS" -ctk $t -ctv $t -fa 1 -ngl 99 -o json > "$OUT/llama-$t.json" \
        2> "$OUT/llama-$t.err" || tail -3 "$OUT/llama-$t.err"; }
done
python3 - "$OUT" "$TYPES" <<'PY'
import json, sys
out, types = sys.argv[1], sys.argv[2].split()
def load(p):
    try:
        t = open(p).read(); return json.loads(t[t.index('['):])
    except Exception: return []
print('| KV | depth | test | ZetaLm t/s | llama.cpp t/s | ratio |')
print('|---|---:|---|---:|---:|---:|')
for t in types:
    z = {}
    for r in load('%s/zeta-%s.json' % (out, t)):
        z[(r['depth'], 'pp')] = r['pp_tps']; z[(r['depth'], 'tg')] = r['tg_tps']
    l = {}
    for r in load('%s/llama-%s.json' % (out, t)):
        l[(r.get('n_depth', 0), 'pp' if r['n_prompt'] else 'tg')] = r['avg_ts']
    for key in sorted(z):
        zv, lv = z[key], l.get(key)
        print('| %s | %d | %s | %.1f | %s | %s |' % (t, key[0], key[1], zv, '%.1f' % lv if lv else '-', '%.2f' % (zv / lv) if lv else '-'))
PY
