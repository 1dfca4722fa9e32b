#!/bin/sh
# session 36 call 2: the layout built on every core (load time), a Q4_K_M mix in test_cuda_sparse; q4_K 7B and Q4_K_M 1.1B gating
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( /usr/bin/time -f "synth 7b %e s" ./build-cuda/zeta synth --shape llama-2-7b --type q4_K -o $M/llama-2-7b-q4_K.gguf >> $R/synth.log 2>&1
  ./build-cuda/zeta synth --shape tinyllama-1.1b --type f16 -o $M/t-f16.gguf >> $R/synth.log 2>&1
  ./build-cuda/zeta quantize $M/t-f16.gguf $M/tinyllama-1.1b-q4_k_m.gguf Q4_K_M >> $R/synth.log 2>&1; rm -f $M/t-f16.gguf; echo ok > $M/.s7k ) &
timeout 200 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]: $(tail -1 $R/test_sparse.log)"
grep -E "^not ok|check failed|FAIL" $R/test_sparse.log | head -8
grep -E "(sparse 50|copy layout)" $R/test_sparse.log | cut -c1-200
while [ ! -f $M/.s7k ]; do sleep 2; done
echo "synth [$(el) s]"; grep -E "synth 7b|wrote|weights" $R/synth.log
OUT=$R/g ROUNDS=2 CTX=64 CHUNKS=2 MODES="sparse variational" SYNTH="q4_k_m:tinyllama-1.1b q4_K:llama-2-7b" \
  timeout $((585 - $(el))) sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round|^calibrat" $R/gating.txt; tail -5 $R/gating.txt
grep -h "extra" $R/g/*.err 2>/dev/null | sort | uniq -c | head -4
for f in $R/g/*.json; do python3 -c "
import json,sys; t=open('$f').read(); d=json.loads(t[t.index('['):])[0]; print('$f'.split('/')[-1], d['tg_tps'], 'load_ms', d['load_ms'], d.get('sparse_ratio'), d.get('fallback_rate'))"; done
tar czf $OUT/r.tgz -C $OUT r
