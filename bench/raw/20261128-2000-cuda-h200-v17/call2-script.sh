#!/bin/sh
# v17 call 2: ncu of the 7B decode step: dense, sparse with k_smvb, sparse with k_smv; stall reasons of k_smvb.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1
./build-cuda/zeta calibrate -m $M/llama-2-7b-q4_0.gguf -f tests/data/war-and-peace-head.txt -c 64 --chunks 2 -t 16 -o $M/llama-2-7b-q4_0.sparsity > $R/cal.log 2>&1
cp $M/llama-2-7b-q4_0.sparsity $R/; echo "calibrated [$(el) s]"
OUT=$R/pd SHAPES=llama-2-7b COUNT=400 timeout 150 sh bench/cuda_prof.sh > $R/prof-dense.txt 2>&1; echo "dense [$(el) s]"; cat $R/prof-dense.txt
OUT=$R/ps SHAPES=llama-2-7b COUNT=400 SPARSE=1 STALL=1 STALL_K=k_smvb timeout 200 sh bench/cuda_prof.sh > $R/prof-sparse.txt 2>&1; echo "sparse [$(el) s]"; cat $R/prof-sparse.txt
ZETA_CUDA_SMVB=0 OUT=$R/po SHAPES=llama-2-7b COUNT=400 SPARSE=1 timeout 150 sh bench/cuda_prof.sh > $R/prof-old.txt 2>&1; echo "old [$(el) s]"; head -30 $R/prof-old.txt
