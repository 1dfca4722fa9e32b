#!/bin/sh
# session 33 call 5: k_smvu against k_smvb at the same split (8), 7B and 1.1B Q8_0
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse" ENVS="ZETA_CUDA_SMV_SPLIT=8 ZETA_CUDA_SMVB=10+ZETA_CUDA_SMV_SPLIT=8 ZETA_CUDA_SMVB=11+ZETA_CUDA_SMV_SPLIT=8" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b" \
  timeout 270 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -12 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
