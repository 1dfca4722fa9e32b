#!/bin/sh
# v17 call 4: the final code (k_smvb's shape by size): tests, then the sparse pass and variational
# mode against standard mode, 3 rounds, with k_smv (ZETA_CUDA_SMVB=0) beside.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $R/device.txt
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo ok > $M/.s7 ) &
for v in 1 0; do
  ZETA_CUDA_SMVB=$v timeout 100 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse-$v.log 2>&1; echo "test_cuda_sparse SMVB=$v rc $? [$(el) s]"; tail -1 $R/test_sparse-$v.log
done
while [ ! -f $M/.s7 ]; do sleep 2; done
OUT=$R/g ROUNDS=3 CTX=64 MODES="sparse variational" ENVS="ZETA_CUDA_SMVB=0" SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 420 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
tail -16 $R/gating.txt
for f in $R/g/*variational-r1.json; do echo "$f: $(grep -o '"sparse_ratio": [0-9.]*\|"fallback_rate": [0-9.]*' $f | tr '\n' ' ')"; done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
