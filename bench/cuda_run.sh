#!/bin/sh
# bench/cuda_run.sh — run ON THE GPU MACHINE, from the repository root: builds with make CUDA=1,
# runs tests/test_cuda, tests/test_cuda_kv and tests/test_cuda_sparse (op-by-op and whole-model checks against the CPU backend, decode graphs vs
# eager), measures the device-to-device copy bandwidth, writes TinyLlama-1.1B-shaped random models
# (Q4_0, Q8_0; and Llama-2-7B-shaped Q4_0 with BIG=1; or SYNTH="TYPE:SHAPE ...", where TYPE may be
# q4_k_m) with `zeta synth`, and times pp512 / tg128
# with `zeta bench --backend cuda`. With LLAMA_SRC=DIR (a llama.cpp source tree or .tar.xz of one,
# never committed), llama.cpp is built with CUDA in the background meanwhile and llama-bench runs
# on the same files, the two engines alternating; nvidia-smi power samples (100 ms) are taken
# during separate decode-only runs for joules per token. Logs go to $OUT (or /tmp/cuda_run); a
# short table is printed last. DEADLINE (seconds, default 540) bounds the wait for llama.cpp.
set -u
OUT=${OUT:-/tmp/cuda_run}
mkdir -p "$OUT"
JOBS=${JOBS:-16}
REPS=${REPS:-5}
PTG_N=${PTG_N:-512}
PTG_R=${PTG_R:-8}
DEADLINE=${DEADLINE:-540}
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
LB=""
if [ -n "${LLAMA_SRC:-}" ]; then
    LD=/tmp/llama-src
    rm -rf $LD && mkdir -p $LD
    case "$LLAMA_SRC" in
        *.txz|*.tar.xz) tar xJf "$LLAMA_SRC" -C $LD ;;
        *) cp -r "$LLAMA_SRC"/. $LD/ ;;
    esac
    ( cd $LD && cmake -B build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF > "$OUT/llama_build.log" 2>&1 \
      && nice -n 5 cmake --build build -j"$JOBS" --target llama-bench >> "$OUT/llama_build.log" 2>&1; echo "rc=$?" > /tmp/llama-build.rc ) &
    LB=$LD/build/bin/llama-bench
fi
echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv,noheader | tee "$OUT/device.txt"
echo "== build (make CUDA=1 -j$JOBS) [$(el) s]"
if ! make CUDA=1 -j"$JOBS" > "$OUT/build.log" 2>&1; then tail -40 "$OUT/build.log"; exit 1; fi
grep -i "warning" "$OUT/build.log" | head -20
M=/tmp/zeta-cuda-models
mkdir -p $M
SYNTH=${SYNTH:-"q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b"}
[ "${BIG:-0}" = 1 ] && SYNTH="$SYNTH q4_0:llama-2-7b"
# TYPE:SHAPE; q4_k_m (llama.cpp's mix) is quantized from an f16 synth of the shape
( for ts in $SYNTH; do t=${ts%%:*}; sh=${ts#*:}
    [ -f $M/$sh-$t.gguf ] && continue
    if [ "$t" = q4_k_m ]; then
        { ./build-cuda/zeta synth --shape $sh --type f16 -o $M/$sh-f16.tmp.gguf &&
          ./build-cuda/zeta quantize $M/$sh-f16.tmp.gguf $M/$sh-$t.gguf Q4_K_M; } > "$OUT/synth-$sh-$t.log" 2>&1
        rm -f $M/$sh-f16.tmp.gguf
    else
        ./build-cuda/zeta synth --shape $sh --type $t -o $M/$sh-$t.gguf > "$OUT/synth-$sh-$t.log" 2>&1
    fi
  done; echo done > $M/.synth-done ) &
echo "== test_cuda [$(el) s]"
# TO: a bound on each test and bench run, so that a hang costs minutes, not the whole call
TO=${TO:-240}
timeout $TO ./build-cuda/tests/test_cuda > "$OUT/test_cuda.log" 2>&1 || echo "test_cuda: rc $? (124: timed out after ${TO}s)"
grep -E '^(ok|FAIL|skip) - |^    (stories|zoo|synth)' "$OUT/test_cuda.log" | grep -v "argmax" | head -40
timeout $TO ./build-cuda/tests/test_cuda_kv > "$OUT/test_cuda_kv.log" 2>&1 || echo "test_cuda_kv: rc $?"
grep -E '^(ok|FAIL|skip) - |check failed|passed' "$OUT/test_cuda_kv.log" | head -20
timeout $TO ./build-cuda/tests/test_cuda_sparse > "$OUT/test_cuda_sparse.log" 2>&1 || echo "test_cuda_sparse: rc $?"
grep -E '^(ok|FAIL|skip) - |check failed|passed' "$OUT/test_cuda_sparse.log" | head -20
echo "== copy bandwidth [$(el) s]"
nvcc -O2 -arch=sm_90 bench/cuda_membw.cu -o build-cuda/cuda_membw && ./build-cuda/cuda_membw | tee "$OUT/membw.txt"
while [ ! -f $M/.synth-done ]; do sleep 2; done
ls -la $M | tee "$OUT/models.txt"
MODELS=""
for ts in $SYNTH; do [ -f $M/${ts#*:}-${ts%%:*}.gguf ] && MODELS="$MODELS $M/${ts#*:}-${ts%%:*}.gguf"; done
# power: 100 ms samples of the whole board while CMD runs -> $OUT/power-NAME.csv
powered() { name=$1; shift
    nvidia-smi --query-gpu=timestamp,power.draw --format=csv,noheader,nounits -lms 100 > "$OUT/power-$name.csv" 2>/dev/null &
    pp=$!; "$@"; rc=$?; kill $pp 2>/dev/null; wait $pp 2>/dev/null; return $rc; }
run_zeta() { m=$1; b=$(basename $m .gguf)
    timeout $TO ./build-cuda/zeta bench --backend cuda -m $m -p 512 -n 128 -r "$REPS" -o json > "$OUT/zeta-$b-$2.json" 2> "$OUT/zeta-$b-$2.err"; }
run_llama() { m=$1; b=$(basename $m .gguf)
    $LB -m $m -p 512 -n 128 -ngl 99 -r "$REPS" -o json > "$OUT/llama-$b-$2.json" 2> "$OUT/llama-$b-$2.err"; }
echo "== zeta bench, graphs on (and ZETA_CUDA_GRAPH=direct for the op-by-op path) [$(el) s]"
for m in $MODELS; do run_zeta $m 1; done
b=tinyllama-1.1b-q4_0
if [ -f $M/$b.gguf ]; then
    ZETA_CUDA_GRAPH=direct ./build-cuda/zeta bench --backend cuda -m $M/$b.gguf -p 0 -n 128 -r "$REPS" -o json \
        > "$OUT/zeta-$b-direct.json" 2>&1
    ZETA_CUDA_GRAPH=0 ./build-cuda/zeta bench --backend cuda -m $M/$b.gguf -p 0 -n 128 -r "$REPS" -o json \
        > "$OUT/zeta-$b-record.json" 2>&1
fi
# ENVS="NAME=VALUE ...": each setting also timed on every model, one run each (A/B of a switch), file zeta-MODEL-NAME=VALUE
for ev in ${ENVS:-}; do
    for m in $MODELS; do
        env "$ev" timeout $TO ./build-cuda/zeta bench --backend cuda -m $m -p 512 -n 128 -r "$REPS" -o json > "$OUT/zeta-$(basename $m .gguf)-$ev.json" 2>&1
    done
done
if [ -n "$LB" ]; then
    echo "== waiting for llama.cpp's build [$(el) s]"
    while [ ! -f /tmp/llama-build.rc ] && [ "$(el)" -lt "$DEADLINE" ]; do sleep 5; done
    if [ -x "$LB" ]; then
        echo "== llama-bench and zeta bench alternating [$(el) s]"
        $LB --version 2>&1 | head -3 | tee "$OUT/llama_version.txt"
        for m in $MODELS; do run_llama $m 1; run_zeta $m 2; run_llama $m 2; done
        # PTG_N x PTG_R decoded tokens a run (the earlier 256 x 4 lasted under a second on the 1.1B
        # models at ZetaLm's rate: 15 samples of 100 ms, load and ramp among them)
        echo "== decode-only runs with power samples (tg$PTG_N x $PTG_R) [$(el) s]"
        for m in $MODELS; do b=$(basename $m .gguf)
            powered zeta-$b ./build-cuda/zeta bench --backend cuda -m $m -p 0 -n $PTG_N -r $PTG_R -o json > "$OUT/ptg-zeta-$b.json" 2>&1
            powered llama-$b $LB -m $m -p 0 -n $PTG_N -ngl 99 -r $PTG_R -o json > "$OUT/ptg-llama-$b.json" 2>&1
        done
    else
        echo "llama.cpp's build did not finish by ${DEADLINE}s:"; tail -5 "$OUT/llama_build.log"
    fi
fi
echo
echo "== summary [$(el) s]"
grep -E '^(ok|FAIL|skip) - |^# |passed' "$OUT/test_cuda.log" | tail -14
grep -E '^(FAIL|skip) - |passed' "$OUT/test_cuda_kv.log" | tail -5
cat "$OUT/device.txt" "$OUT/membw.txt"
python3 - "$OUT" <<'PY'
import json, glob, os, sys, statistics as st
out = sys.argv[1]
def load(p):
    try:
        t = open(p).read(); return json.loads(t[t.index('['):]) if '[' in t else json.loads(t)
    except Exception as e: return None
rows = {}
for p in sorted(glob.glob(out + '/zeta-*.json')) + sorted(glob.glob(out + '/llama-*.json')):
    eng, rest = os.path.basename(p)[:-5].split('-', 1)
    model, run = rest.rsplit('-', 1)
    d = load(p)
    if d is None: continue
    if isinstance(d, dict): d = [d]
    for r in d:
        if eng == 'zeta':
            for test, k in (('pp512', 'pp_tps'), ('tg128', 'tg_tps')):
                if r.get(k): rows.setdefault((model, test), {}).setdefault(eng + ('' if run in '12' else '-' + run), []).append(r[k])
        else:
            test = 'pp%d' % r['n_prompt'] if r['n_prompt'] else 'tg%d' % r['n_gen']
            rows.setdefault((model, test), {}).setdefault(eng, []).append(r['avg_ts'])
print('| model | test | ZetaLm t/s | llama.cpp t/s | ratio |')
print('|---|---|---:|---:|---:|')
for (model, test), v in sorted(rows.items()):
    z = v.get('zeta'); l = v.get('llama')
    extra = ' '.join('%s %.1f' % (k, st.median(x)) for k, x in v.items() if k not in ('zeta', 'llama'))
    zs = '%.1f (%s)' % (st.median(z), ', '.join('%.1f' % x for x in z)) if z else '-'
    ls = '%.1f (%s)' % (st.median(l), ', '.join('%.1f' % x for x in l)) if l else '-'
    ratio = '%.2f' % (st.median(z) / st.median(l)) if z and l else '-'
    print('| %s | %s | %s | %s | %s | %s' % (model, test, zs, ls, ratio, extra))
for p in sorted(glob.glob(out + '/power-*.csv')):
    name = os.path.basename(p)[6:-4]
    w = []
    for line in open(p):
        try: w.append(float(line.split(',')[1]))
        except Exception: pass
    if not w: continue
    hi = sorted(w)[len(w) // 2:]  # the busier half of the samples (load and idle gaps excluded)
    d = load(out + '/ptg-' + name + '.json')
    tps = None
    if d:
        if isinstance(d, dict): d = [d]
        r = d[0]; tps = r.get('tg_tps') or r.get('avg_ts')
    print('power %-28s samples %4d  median of busier half %.1f W  max %.1f W  tg %s t/s  -> %s J/token' % (
        name, len(w), st.median(hi), max(w), '%.1f' % tps if tps else '-', '%.3f' % (st.median(hi) / tps) if tps else '-'))
PY
