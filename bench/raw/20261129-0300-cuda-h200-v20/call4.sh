#!/bin/sh
# session 35 call 4: other types requantized to Q8_0 / Q4_0 for the GPU's sparse pass: test_cuda_sparse (zoo F16, Q4_K_S added),
# then the 7B shape in q4_K (sparse layout requantized to Q4_0) against standard mode
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_K -o $M/llama-2-7b-q4_K.gguf > $R/synth.log 2>&1; echo ok > $M/.s7k ) &
timeout 90 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]: $(tail -1 $R/test_sparse.log)"
grep -E "^not ok|check failed|FAIL" $R/test_sparse.log | head -5
grep -E "zoo-.*(sparse 50|variational|copy layout)" $R/test_sparse.log | head -12
while [ ! -f $M/.s7k ]; do sleep 2; done
echo "synth [$(el) s]"
( time ./build-cuda/zeta calibrate -m $M/llama-2-7b-q4_K.gguf -f tests/data/war-and-peace-head.txt -c 64 --chunks 2 -t 16 -o $M/llama-2-7b-q4_K.sparsity ) > $R/calib.log 2>&1; echo "calibrate [$(el) s]"; tail -4 $R/calib.log
cp $M/llama-2-7b-q4_K.sparsity $R/
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse variational" SPARSITY_FROM=$M SYNTH="q4_K:llama-2-7b" \
  timeout 330 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -4 $R/gating.txt
grep -h "extra" $R/g/*.err 2>/dev/null | head -2
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
