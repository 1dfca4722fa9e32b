#!/bin/sh
# v17 call 1: k_smvb (bulk copies into shared memory) — tests of every variant, then the sparse pass
# against standard mode (7B Q4_0, 1.1B Q4_0 / Q8_0), variants by ZETA_CUDA_SMVB.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $R/device.txt
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
for v in 1 0 2 3; do
  ZETA_CUDA_SMVB=$v timeout 100 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse-$v.log 2>&1; echo "test_cuda_sparse SMVB=$v rc $? [$(el) s]"; tail -1 $R/test_sparse-$v.log
  grep -E "FAIL|sparse q" $R/test_sparse-$v.log | head -12
done
OUT=$R/g ROUNDS=2 CTX=64 ENVS="ZETA_CUDA_SMVB=0 ZETA_CUDA_SMVB=2 ZETA_CUDA_SMVB=3" SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 420 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
tail -12 $R/gating.txt
