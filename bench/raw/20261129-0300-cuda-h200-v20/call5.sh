#!/bin/sh
# session 35 call 5: why zoo-Q4_K_S's sparse pass (Q4_0 requantized) differs between CUDA and CPU: A/B switches
set -u
R=$OUT/r; mkdir -p $R
make CUDA=1 -j16 SERVER=0 build-cuda/tests/test_cuda_sparse > $R/build.log 2>&1; echo "build rc $?"
for v in "X=1" "ZETA_SPARSE_REQUANT=q8_0" "ZETA_CUDA_Q8K_FUSE=0" "ZETA_CUDA_MMVK8=0" "ZETA_CUDA_SMVB=11"; do
  env $v timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/ts.log 2>&1; echo "== $v rc $?: $(tail -1 $R/ts.log)"
  grep -E "zoo-(Q4_K_S|F16).*sparse 50" $R/ts.log | cut -c1-200
done
