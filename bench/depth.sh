#!/bin/sh
# depth.sh — decode speed with a long context already in the KV cache, ZetaLm and (when
# LLAMA_BENCH is set) llama.cpp's llama-bench side by side: the same GGUF file, threads and KV cache
# type, `-d DEPTH` in both (llama-bench with flash attention, which its quantized V cache needs).
# Each run is one ZetaLm process over all DEPTHS (a session per depth, filled once; its ZREPS
# repetitions alternate between the depths, so the ratio between depths is measured in the same
# minutes), then one llama-bench process per depth. Raw outputs go to bench/raw/<UTC date-time>-depth/;
# the last lines are a table of tg t/s per depth (median over the runs; a ZetaLm run counts the mean
# of its repetitions) and the ratios.
#
#   MODEL=/work/models/tinyllama-1.1b-Q8_0.gguf LLAMA_BENCH=/path/llama-bench bench/depth.sh
#
# Environment [defaults]: MODEL (required), DEPTHS ["256 4096"], KV [q8_0], THREADS [2], REPS [3]
# (runs), ZREPS [3] (ZetaLm repetitions per run), TG [32], ZETA [build/zeta], LLAMA_BENCH (unset:
# ZetaLm only), OUT [bench/raw/<stamp>-depth].
set -u
cd "$(dirname "$0")/.." || exit 1
: "${MODEL:?set MODEL to a .gguf file}"
DEPTHS=${DEPTHS:-"256 4096"}
KV=${KV:-q8_0}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
ZREPS=${ZREPS:-3}
TG=${TG:-32}
ZETA=${ZETA:-build/zeta}
LLAMA_BENCH=${LLAMA_BENCH:-}
OUT=${OUT:-bench/raw/$(date -u +%Y%m%d-%H%M%S)-depth}
mkdir -p "$OUT" || exit 1
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "model: $MODEL; KV: $KV; threads: $THREADS; tg: $TG; depths: $DEPTHS; runs: $REPS; zeta reps per run: $ZREPS"
    echo "zeta: $ZETA bench -m MODEL -p 0 -n $TG -r $ZREPS -t $THREADS -d $(echo $DEPTHS | tr ' ' ,) -ctk $KV -ctv $KV -o json"
    [ -n "$LLAMA_BENCH" ] && echo "llama: $LLAMA_BENCH -m MODEL -p 0 -n $TG -r 1 -t $THREADS -d D -ctk $KV -ctv $KV -fa 1 -o json"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
DLIST=$(echo $DEPTHS | tr ' ' ,)
for r in $(seq 1 "$REPS"); do
    echo "run $r: zeta, depths $DLIST" >&2
    "$ZETA" bench -m "$MODEL" -p 0 -n "$TG" -r "$ZREPS" -t "$THREADS" -d "$DLIST" -ctk "$KV" -ctv "$KV" -o json \
        > "$OUT/zeta-r$r.json" 2> "$OUT/zeta-r$r.err"
    if [ -n "$LLAMA_BENCH" ]; then
        for d in $DEPTHS; do
            echo "run $r: llama.cpp, depth $d" >&2
            "$LLAMA_BENCH" -m "$MODEL" -p 0 -n "$TG" -r 1 -t "$THREADS" -d "$d" -ctk "$KV" -ctv "$KV" -fa 1 -o json \
                > "$OUT/llama-d$d-r$r.json" 2> "$OUT/llama-d$d-r$r.err"
        done
    fi
done
python3 - "$OUT" "$DEPTHS" <<'PY'
import json, os, statistics, sys
out, depths = sys.argv[1], [int(d) for d in sys.argv[2].split()]
def med(prefix, key, depth=None):
    v = []
    for f in sorted(os.listdir(out)):
        if f.startswith(prefix) and f.endswith(".json"):
            try:
                d = json.load(open(os.path.join(out, f)))
            except Exception:
                continue
            for row in d:
                if depth is not None and row.get("depth") != depth:
                    continue
                x = row.get(key)
                if x: v.append(float(x))
    return statistics.median(v) if v else None
rows = ["| depth | ZetaLm tg t/s | llama.cpp tg t/s | ratio | ZetaLm vs its first depth |", "|---:|---:|---:|---:|---:|"]
base = None
for d in depths:
    z = med("zeta-r", "tg_tps", d)
    l = med("llama-d%d-" % d, "avg_ts")
    base = base or z
    rows.append("| %d | %s | %s | %s | %s |" % (d, "%.2f" % z if z else "-", "%.2f" % l if l else "-",
                "%.2fx" % (z / l) if z and l else "-", "%.2fx" % (z / base) if z and base else "-"))
open(os.path.join(out, "table.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
