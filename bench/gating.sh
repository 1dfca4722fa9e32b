#!/bin/sh
# gating.sh — issue 5's speed measurement: decode (tg) of the sparse pass against standard mode,
# same process settings, alternating run by run. For each model: calibrates a sparsity file once
# (kept in OUT), then per thread count and run: `zeta bench` standard, then `--mode sparse` at LEVEL
# (every step sparse: the sparse pass's own speed) and, when VARIATIONAL=1, `--mode variational`.
# Raw outputs go to bench/raw/<UTC date-time>-gating/; the last lines are a table of median tg t/s
# and the ratios to standard.
#
#   MODELS="/work/models/tinyllama-1.1b-Q8_0.gguf /work/models/tinyllama-1.1b-Q4_0.gguf" \
#       TEXT=../shared/text/wiki.test.raw sh bench/gating.sh
#
# Environment [defaults]: MODELS (required), TEXT (calibration text, required), LEVEL [0.5],
# THREADS ["1 2"], REPS [5], TG [32], CHUNKS [4] (calibration chunks of 512 tokens), VARIATIONAL [0],
# ZETA [build/zeta], OUT [bench/raw/<stamp>-gating].
set -u
cd "$(dirname "$0")/.." || exit 1
: "${MODELS:?set MODELS to .gguf files}"
: "${TEXT:?set TEXT to a calibration text file}"
LEVEL=${LEVEL:-0.5}
THREADS=${THREADS:-"1 2"}
REPS=${REPS:-5}
TG=${TG:-32}
CHUNKS=${CHUNKS:-4}
VARIATIONAL=${VARIATIONAL:-0}
ZETA=${ZETA:-build/zeta}
OUT=${OUT:-bench/raw/$(date -u +%Y%m%d-%H%M%S)-gating}
mkdir -p "$OUT" || exit 1
MODES="sparse"
[ "$VARIATIONAL" = 1 ] && MODES="sparse variational"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores"
    echo "models: $MODELS"
    echo "calibration: $ZETA calibrate -m MODEL -f $TEXT -c 512 --chunks $CHUNKS -o MODEL.sparsity"
    echo "standard: $ZETA bench -m MODEL -p 0 -n $TG -r 1 -t T -o json"
    echo "modes ($MODES): the same + --sparsity MODEL.sparsity --mode MODE --level $LEVEL; threads: $THREADS; reps: $REPS"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
for m in $MODELS; do
    b=$(basename "$m" .gguf)
    if [ ! -f "$OUT/$b.sparsity" ]; then
        echo "calibrating $b" >&2
        "$ZETA" calibrate -m "$m" -f "$TEXT" -c 512 --chunks "$CHUNKS" -o "$OUT/$b.sparsity" > "$OUT/$b-calibrate.log" 2>&1 || {
            echo "calibration of $m failed: see $OUT/$b-calibrate.log" >&2; exit 1; }
    fi
done
for t in $THREADS; do
    for r in $(seq 1 "$REPS"); do
        for m in $MODELS; do
            b=$(basename "$m" .gguf)
            echo "t$t run $r: $b standard" >&2
            "$ZETA" bench -m "$m" -p 0 -n "$TG" -r 1 -t "$t" -o json > "$OUT/$b-t$t-standard-r$r.json" 2> "$OUT/$b-t$t-standard-r$r.err"
            for mode in $MODES; do
                echo "t$t run $r: $b $mode" >&2
                "$ZETA" bench -m "$m" -p 0 -n "$TG" -r 1 -t "$t" --sparsity "$OUT/$b.sparsity" --mode "$mode" --level "$LEVEL" -o json \
                    > "$OUT/$b-t$t-$mode-r$r.json" 2> "$OUT/$b-t$t-$mode-r$r.err"
            done
        done
    done
done
python3 - "$OUT" "$MODELS" "$THREADS" "$MODES" "$LEVEL" <<'PY'
import json, os, statistics, sys
out, models, threads, modes, level = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
def vals(prefix):
    v = []
    for f in sorted(os.listdir(out)):
        if f.startswith(prefix) and f.endswith(".json"):
            try:
                d = json.load(open(os.path.join(out, f)))
            except Exception:
                continue
            for row in d:
                x = row.get("tg_tps")
                if x: v.append(float(x))
    return v
hdr = "| model | threads | standard tg t/s (runs) |" + "".join(" %s %s tg t/s (runs) | ratio |" % (m, level) for m in modes)
rows = [hdr, "|---|---:|---|" + "---|---:|" * len(modes)]
for m in models:
    b = os.path.basename(m)[:-5]
    for t in threads:
        s = vals("%s-t%s-standard-" % (b, t))
        cells = ["%s" % b, t, "%.2f (%s)" % (statistics.median(s), ", ".join("%.2f" % x for x in s)) if s else "-"]
        for mode in modes:
            v = vals("%s-t%s-%s-" % (b, t, mode))
            cells.append("%.2f (%s)" % (statistics.median(v), ", ".join("%.2f" % x for x in v)) if v else "-")
            cells.append("%.2fx" % (statistics.median(v) / statistics.median(s)) if v and s else "-")
        rows.append("| " + " | ".join(cells) + " |")
open(os.path.join(out, "table.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
