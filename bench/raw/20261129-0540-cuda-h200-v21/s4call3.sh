#!/bin/sh
# session 36 call 3: k_smvb with the warp's first input block copied whole before griddepcontrol.wait (ZETA_CUDA_SMVB=12) against the default
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( for ts in q4_0:llama-2-7b q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b; do t=${ts%%:*}; sh=${ts#*:}
    ./build-cuda/zeta synth --shape $sh --type $t -o $M/$sh-$t.gguf >> $R/synth.log 2>&1; done; echo ok > $M/.s7k ) &
timeout 150 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]: $(tail -1 $R/test_sparse.log)"
ZETA_CUDA_SMVB=12 timeout 150 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse12.log 2>&1; echo "test_cuda_sparse (=12) rc $? [$(el) s]: $(tail -1 $R/test_sparse12.log)"
grep -E "^not ok|check failed|FAIL" $R/test_sparse.log $R/test_sparse12.log | head -8
echo "diff of the printed errors, default vs =12:"; diff $R/test_sparse.log $R/test_sparse12.log | head -10; echo "(end of diff)"
while [ ! -f $M/.s7k ]; do sleep 2; done
echo "synth [$(el) s]"
OUT=$R/g ROUNDS=3 CTX=64 MODES="sparse" ENVS="ZETA_CUDA_SMVB=12" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b" \
  timeout $((585 - $(el))) sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -7 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r
