#!/bin/sh
# bench/cuda_ab.sh — run ON THE GPU MACHINE from the repository root, after make CUDA=1: decode A/B of
# environment switches of one build. Writes the TinyLlama-1.1B-shaped Q4_0 / Q8_0 and Llama-2-7B-shaped
# Q4_0 models with `zeta synth` (once, into /tmp/zeta-cuda-models), then per round, per model, each
# variant in turn: `zeta bench --backend cuda -p 0 -n 128 -r 3`, printing "model variant tg-t/s".
# A variant is VAR=VALUE settings joined by '+' (X=1 for the defaults); MODELS="NAME ..." picks other
# models of /tmp/zeta-cuda-models (e.g. those bench/cuda_run.sh wrote); the last lines are each
# model's and variant's median:
#
#   VARIANTS="X=1 ZETA_CUDA_PDL_CHAIN=0 ZETA_CUDA_ATTN_DEC=0" ROUNDS=3 sh bench/cuda_ab.sh
set -u
M=/tmp/zeta-cuda-models; mkdir -p $M
for ts in q4_0:llama-2-7b q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b; do t=${ts%%:*}; sh=${ts#*:}
  [ -f $M/$sh-$t.gguf ] || ./build-cuda/zeta synth --shape $sh --type $t -o $M/$sh-$t.gguf > /dev/null 2>&1; done
for r in $(seq 1 ${ROUNDS:-2}); do
 for m in ${MODELS:-llama-2-7b-q4_0 tinyllama-1.1b-q4_0 tinyllama-1.1b-q8_0}; do
  for v in $VARIANTS; do
   env $(echo $v | tr '+' ' ') ./build-cuda/zeta bench --backend cuda -m $M/$m.gguf -p 0 -n 128 -r 3 -o json 2>/dev/null | python3 -c "import json,sys; t=sys.stdin.read(); d=json.loads(t[t.index('['):]); print('$m', '$v', round(d[0]['tg_tps'],1))"
  done
 done
done | tee /tmp/cuda_ab.txt
python3 - <<'PY'
import collections, statistics as st
d = collections.defaultdict(list)
for line in open('/tmp/cuda_ab.txt'):
    p = line.split()
    if len(p) == 3: d[(p[0], p[1])].append(float(p[2]))
for k in sorted(d): print('median %-24s %-32s %8.1f t/s  (%d runs)' % (k[0], k[1], st.median(d[k]), len(d[k])))
PY
