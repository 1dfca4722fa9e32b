#!/bin/sh
# bench/cuda_gating.sh — run ON THE GPU MACHINE from the repository root, after make CUDA=1: issue 9's
# "variational mode on the GPU" measurement. Writes the random-weight models (zeta synth, once, into
# /tmp/zeta-cuda-models: TinyLlama-1.1B-shaped Q4_0 / Q8_0, Llama-2-7B-shaped Q4_0), calibrates each
# on the CPU (zeta calibrate over TEXT, CHUNKS chunks of CTX tokens), then per round and model:
# `zeta bench --backend cuda -p 0 -n 128 -r 3` in standard mode, then with the sparsity file in
# --mode sparse (every step the sparse pass) at LEVEL, alternating. Raw JSON in $OUT; the last lines
# are a table of median tg t/s and the ratio to standard mode.
#
#   ROUNDS=3 LEVEL=0.5 sh bench/cuda_gating.sh
#
# Environment [defaults]: ROUNDS [3], LEVEL [0.5], SYNTH ["q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b
# q4_0:llama-2-7b"], TEXT [tests/data/war-and-peace-head.txt], CTX [128], CHUNKS [2], MODES [sparse]
# (add variational for the gated mode), ENVS [""] (VAR=VALUE settings of extra sparse variants,
# each joined by '+'), OUT [/tmp/cuda_gating], SPARSITY_FROM [""] (a folder of MODEL.sparsity files to use instead of
# calibrating, e.g. bench/raw/20261128-2000-cuda-h200-v17, calibrated with CTX=64 CHUNKS=2: they match fresh synth files).
set -u
OUT=${OUT:-/tmp/cuda_gating}
mkdir -p "$OUT"
M=/tmp/zeta-cuda-models
mkdir -p $M
ROUNDS=${ROUNDS:-3}
LEVEL=${LEVEL:-0.5}
TEXT=${TEXT:-tests/data/war-and-peace-head.txt}
CTX=${CTX:-128}
CHUNKS=${CHUNKS:-2}
MODES=${MODES:-sparse}
ENVS=${ENVS:-}
SYNTH=${SYNTH:-"q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b q4_0:llama-2-7b"}
Z=./build-cuda/zeta
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
    echo "calibration: $Z calibrate -m MODEL -f $TEXT -c $CTX --chunks $CHUNKS -t 16 -o MODEL.sparsity (CPU)"
    echo "standard: $Z bench --backend cuda -m MODEL -p 0 -n 128 -r 3 -o json"
    echo "modes ($MODES): the same + --sparsity MODEL.sparsity --mode MODE --level $LEVEL; rounds: $ROUNDS; extra sparse variants: ${ENVS:-none}"
} | tee "$OUT/machine.txt"
MODELS=""
[ -n "${SPARSITY_FROM:-}" ] && cp "$SPARSITY_FROM"/*.sparsity $M/ 2>/dev/null
for ts in $SYNTH; do
    t=${ts%%:*}; sh=${ts#*:}; m=$M/$sh-$t.gguf
    [ -f $m ] || $Z synth --shape $sh --type $t -o $m > "$OUT/synth-$sh-$t.log" 2>&1
    if [ ! -f $M/$sh-$t.sparsity ]; then
        echo "calibrating $sh-$t [$(el) s]"
        $Z calibrate -m $m -f "$TEXT" -c "$CTX" --chunks "$CHUNKS" -t 16 -o $M/$sh-$t.sparsity > "$OUT/calibrate-$sh-$t.log" 2>&1 ||
            { echo "calibration of $m failed:"; tail -3 "$OUT/calibrate-$sh-$t.log"; continue; }
    fi
    MODELS="$MODELS $sh-$t"
done
tg() { python3 -c "import json,sys; t=open(sys.argv[1]).read(); d=json.loads(t[t.index('['):]); print(round(d[0]['tg_tps'],1))" "$1" 2>/dev/null || echo "-"; }
for r in $(seq 1 "$ROUNDS"); do
    for b in $MODELS; do
        $Z bench --backend cuda -m $M/$b.gguf -p 0 -n 128 -r 3 -o json > "$OUT/$b-standard-r$r.json" 2> "$OUT/$b-standard-r$r.err"
        line="round $r $b: standard $(tg "$OUT/$b-standard-r$r.json")"
        for mode in $MODES; do
            $Z bench --backend cuda -m $M/$b.gguf -p 0 -n 128 -r 3 --sparsity $M/$b.sparsity --mode $mode --level "$LEVEL" -o json \
                > "$OUT/$b-$mode-r$r.json" 2> "$OUT/$b-$mode-r$r.err"
            line="$line, $mode $(tg "$OUT/$b-$mode-r$r.json")"
        done
        for v in $ENVS; do
            env $(echo $v | tr '+' ' ') $Z bench --backend cuda -m $M/$b.gguf -p 0 -n 128 -r 3 --sparsity $M/$b.sparsity --mode sparse \
                --level "$LEVEL" -o json > "$OUT/$b-sparse@$v-r$r.json" 2> "$OUT/$b-sparse@$v-r$r.err"
            line="$line, sparse@$v $(tg "$OUT/$b-sparse@$v-r$r.json")"
        done
        echo "$line [$(el) s]"
    done
done
echo "== summary (median tg128 t/s over $ROUNDS rounds; ratio to standard)"
python3 - "$OUT" <<'PY'
import json, glob, os, sys, statistics as st
out = sys.argv[1]
rows = {}
for p in glob.glob(out + '/*-r*.json'):
    name = os.path.basename(p)[:-5]
    base, _ = name.rsplit('-r', 1)
    model, mode = base.rsplit('-', 1) if '@' not in base else (base.split('-sparse@')[0], 'sparse@' + base.split('-sparse@')[1])
    try:
        t = open(p).read(); d = json.loads(t[t.index('['):])
        rows.setdefault(model, {}).setdefault(mode, []).append(d[0]['tg_tps'])
    except Exception:
        pass
for model, v in sorted(rows.items()):
    s = v.get('standard')
    for mode, x in sorted(v.items()):
        r = ' = %.2fx' % (st.median(x) / st.median(s)) if s and mode != 'standard' else ''
        print('%-22s %-28s %7.1f  (%s)%s' % (model, mode, st.median(x), ', '.join('%.1f' % y for y in x), r))
PY
