#!/bin/sh
# bench/cuda_run.sh — run ON THE GPU MACHINE, from the repository root: builds with make CUDA=1,
# runs tests/test_cuda, tests/test_cuda_kv and tests/test_cuda_sparse (op-by-op and whole-model checks against the CPU backend, decode graphs vs
# eager), measures the device-to-device copy bandwidth, writes TinyLlama-1.1B-shaped random models
# (Q4_0, Q8_0; and Llama-2-7B-shaped Q4_0 with BIG=1; or SYNTH="TYPE:SHAPE ...", where TYPE may be
# any type `zeta quantize` takes: q4_k_m, q3_k_m, iq4_xs, f16, ...) with `zeta synth`, and times pp512 / tg128
# with `zeta bench --backend cuda`. With LLAMA_SRC=DIR (a llama.cpp source tree or .tar.xz of one,
# never committed), llama.cpp is built with CUDA in the background meanwhile and llama-bench runs
# on the same files, the two engines alternating; then joules per generated token from the GPU's
# energy counter (bench/cuda_energy.c) around decode-only runs of two lengths. Logs go to $OUT (or /tmp/cuda_run); a
# short table is printed last. DEADLINE (seconds, default 540) bounds the wait for llama.cpp.
set -u
OUT=${OUT:-/tmp/cuda_run}
mkdir -p "$OUT"
JOBS=${JOBS:-16}
REPS=${REPS:-5}
PTG_N=${PTG_N:-256}
PTG_LO=${PTG_LO:-1}
PTG_HI=${PTG_HI:-9}
DEADLINE=${DEADLINE:-540}
# ENERGY: an extended regular expression; only models whose file name matches it get the energy runs
ENERGY=${ENERGY:-.}
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
LB=""
# a machine kept warm between calls still has the last call's markers: start clean
rm -f /tmp/llama-build.rc /tmp/zeta-cuda-models/.synth-done
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
# TYPE:SHAPE; q4_0, q8_0, f16 and the plain K-quants (q4_K, ...) are written by zeta synth, any other type `zeta quantize` takes (q4_k_m,
# q3_k_m, iq4_xs, ...: llama.cpp's names) is quantized from one f16 synth of the shape
( for ts in $SYNTH; do t=${ts%%:*}; sh=${ts#*:}
    [ -f $M/$sh-$t.gguf ] && continue
    case "$t" in
        q4_0|q8_0|f16|q2_K|q3_K|q4_K|q5_K|q6_K) ./build-cuda/zeta synth --shape $sh --type $t -o $M/$sh-$t.gguf > "$OUT/synth-$sh-$t.log" 2>&1 ;;
        *) { [ -f $M/$sh-f16.tmp.gguf ] || ./build-cuda/zeta synth --shape $sh --type f16 -o $M/$sh-f16.tmp.gguf; } > "$OUT/synth-$sh-$t.log" 2>&1
           ./build-cuda/zeta quantize $M/$sh-f16.tmp.gguf $M/$sh-$t.gguf $(echo $t | tr a-z A-Z) >> "$OUT/synth-$sh-$t.log" 2>&1 ;;
    esac
  done; rm -f $M/*-f16.tmp.gguf; echo done > $M/.synth-done ) &
echo "== test_cuda [$(el) s]"
# TO: a bound on each test and bench run, so that a hang costs minutes, not the whole call
TO=${TO:-240}
timeout $TO ./build-cuda/tests/test_cuda > "$OUT/test_cuda.log" 2>&1 || echo "test_cuda: rc $? (124: timed out after ${TO}s)"
grep -E '^(ok|FAIL|skip) - ' "$OUT/test_cuda.log" | head -20
timeout $TO ./build-cuda/tests/test_cuda_model > "$OUT/test_cuda_model.log" 2>&1 || echo "test_cuda_model: rc $? (124: timed out after ${TO}s)"
grep -E '^(ok|FAIL|skip) - |^    (stories|zoo|synth)' "$OUT/test_cuda_model.log" | grep -v "argmax" | head -40
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
        # energy per token: the GPU's energy counter (bench/cuda_energy.c) around two decode-only
        # runs of PTG_N tokens that differ only in repetitions (PTG_LO, PTG_HI); the difference of
        # their joules over the difference of their tokens, so that loading and warm-up cancel.
        # (nvidia-smi's power.draw, sampled until 2026-11-28, is a one-second moving average here.)
        echo "== energy: tg$PTG_N x $PTG_LO and x $PTG_HI, engines alternating [$(el) s]"
        cc -O2 bench/cuda_energy.c -o build-cuda/cuda_energy -ldl
        for m in $MODELS; do b=$(basename $m .gguf)
            echo "$b" | grep -Eq "$ENERGY" || continue
            for r in $PTG_LO $PTG_HI; do
                ./build-cuda/cuda_energy "$OUT/energy-zeta-$b-$r.txt" timeout $TO ./build-cuda/zeta bench --backend cuda -m $m -p 0 \
                    -n $PTG_N -r $r -o json > "$OUT/ptg-zeta-$b-$r.json" 2>&1
                ./build-cuda/cuda_energy "$OUT/energy-llama-$b-$r.txt" timeout $TO $LB -m $m -p 0 -n $PTG_N -ngl 99 -r $r -o json \
                    > "$OUT/ptg-llama-$b-$r.json" 2>&1
            done
        done
    else
        echo "llama.cpp's build did not finish by ${DEADLINE}s:"; tail -5 "$OUT/llama_build.log"
    fi
fi
echo
echo "== summary [$(el) s]"
grep -E '^(ok|FAIL|skip) - |^# |passed' "$OUT/test_cuda.log" | tail -10
grep -E '^(ok|FAIL|skip) - |^# |passed' "$OUT/test_cuda_model.log" | tail -5
grep -E '^(FAIL|skip) - |passed' "$OUT/test_cuda_kv.log" | tail -5
cat "$OUT/device.txt" "$OUT/membw.txt"
python3 - "$OUT" "$PTG_N" "$PTG_LO" "$PTG_HI" <<'PY'
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
ptg_n, lo, hi = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for p in sorted(glob.glob(out + '/energy-*-%d.txt' % hi)):
    name = os.path.basename(p)[7:-len('-%d.txt' % hi)]
    try:
        jh, sh = map(float, open(p).read().split())
        jl, sl = map(float, open(out + '/energy-%s-%d.txt' % (name, lo)).read().split())
    except Exception:
        continue
    toks = (hi - lo) * ptg_n
    print('energy %-30s %d extra tokens: %.1f J in %.2f s more -> %.4f J/token (%.0f W while decoding)' % (
        name, toks, jh - jl, sh - sl, (jh - jl) / toks, (jh - jl) / max(sh - sl, 1e-9)))
PY
