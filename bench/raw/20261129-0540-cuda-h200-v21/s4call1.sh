#!/bin/sh
# session 36 call 1: requantized sparse layouts on the GPU (test_cuda_sparse with zoo-F16 / zoo-Q4_K_S, prompts a token at a time),
# then q4_K models (1.1B, 7B) in standard / sparse / variational mode on the GPU
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( for s in tinyllama-1.1b llama-2-7b; do /usr/bin/time -f "synth $s %e s" ./build-cuda/zeta synth --shape $s --type q4_K -o $M/$s-q4_K.gguf >> $R/synth.log 2>&1; done; echo ok > $M/.s7k ) &
timeout 200 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]: $(tail -1 $R/test_sparse.log)"
grep -E "^not ok|check failed|FAIL" $R/test_sparse.log | head -8
grep -E "zoo-.*(sparse 50|variational|copy layout|not checked)" $R/test_sparse.log | head -14
while [ ! -f $M/.s7k ]; do sleep 2; done
echo "synth [$(el) s]"; cat $R/synth.log | grep synth
for s in tinyllama-1.1b llama-2-7b; do
  /usr/bin/time -f "calibrate $s %e s" ./build-cuda/zeta calibrate -m $M/$s-q4_K.gguf -f tests/data/war-and-peace-head.txt -c 64 --chunks 2 -t 16 -o $M/$s-q4_K.sparsity > $R/calib-$s.log 2>&1
  tail -1 $R/calib-$s.log; cp $M/$s-q4_K.sparsity $R/
done
echo "[$(el) s]"
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse variational" SPARSITY_FROM=$M SYNTH="q4_K:tinyllama-1.1b q4_K:llama-2-7b" \
  timeout $((585 - $(el))) sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -4 $R/gating.txt
grep -h "extra\|sparse layout" $R/g/*.err 2>/dev/null | sort | uniq -c | head -4
tar czf $OUT/r.tgz -C $OUT r
