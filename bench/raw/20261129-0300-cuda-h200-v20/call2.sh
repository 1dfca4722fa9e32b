#!/bin/sh
# session 35 call 2: where the 7B's variational steps go now (gate_steps), and the sparse step under ncu (per kernel; k_smvb stall reasons)
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
CH=$(dirname $(dirname $(command -v nvcc)))
BUILD=build-cuda NO_MAKE=1 LIBS="-L$CH/lib64 -Wl,-rpath,$CH/lib64 -lcublas -lcudart -lstdc++" sh bench/build.sh gate_steps > $R/build_gs.log 2>&1; echo "gate_steps build rc $?"
./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo "synth [$(el) s]"
for i in 1 2; do echo "== llama-2-7b-q4_0 run $i [$(el) s]"; timeout 90 ./build-cuda/gate_steps $M/llama-2-7b-q4_0.gguf $M/llama-2-7b-q4_0.sparsity cuda 128 0.5 2>&1 | grep -v "^zeta:"; done
echo "== =11 (a copy a column)"; ZETA_CUDA_SMVB=11 timeout 90 ./build-cuda/gate_steps $M/llama-2-7b-q4_0.gguf $M/llama-2-7b-q4_0.sparsity cuda 128 0.5 2>&1 | grep -v "^zeta:"
echo "[$(el) s]"
OUT=$R/ps SHAPES=llama-2-7b COUNT=400 SPARSE=1 STALL=1 STALL_K=k_smvb timeout 200 sh bench/cuda_prof.sh > $R/prof-sparse.txt 2>&1; echo "sparse prof rc $? [$(el) s]"; cat $R/prof-sparse.txt | tail -60
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/ps
