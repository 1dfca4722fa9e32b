#!/bin/sh
# device call 2: tests + A/B of the SwiGLU rounding fold + CPU gating on the device's CPU
set -u
D=/tmp/c2; rm -rf $D; mkdir -p $D
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
make CUDA=1 -j16 > $D/build.log 2>&1 || { tail -30 $D/build.log; exit 1; }
grep -i warning $D/build.log | head
echo "== test_cuda [$(el) s]"
timeout 240 ./build-cuda/tests/test_cuda > $D/test_cuda.log 2>&1; echo "test_cuda rc $?"
grep -E "^(ok|FAIL|skip) - |zoo-Q4_0|zoo-Q8_0|passed|check failed" $D/test_cuda.log | grep -v argmax | head -40
echo "== A/B [$(el) s]"
VARIANTS="X=1 ZETA_CUDA_SWIGLU_Q8=0" ROUNDS=${ROUNDS:-3} sh bench/cuda_ab.sh > $D/ab.txt 2>&1; tail -7 $D/ab.txt
echo "== CPU gating [$(el) s]"
lscpu > $D/lscpu.txt; grep -E "Model name|^CPU\(s\)|L3" $D/lscpu.txt
make -j16 > $D/cpu_build.log 2>&1 || tail -20 $D/cpu_build.log
M=/tmp/zeta-cpu-models; mkdir -p $M
for t in q8_0 q4_0; do [ -f $M/tinyllama-1.1b-$t.gguf ] || ./build/zeta synth --shape tinyllama-1.1b --type $t -o $M/tinyllama-1.1b-$t.gguf > /dev/null 2>&1; done
MODELS="$M/tinyllama-1.1b-q8_0.gguf $M/tinyllama-1.1b-q4_0.gguf" TEXT=tests/data/tinystories-valid-first46.txt THREADS="${GTHREADS:-8 16}" \
    REPS=3 VARIATIONAL=1 OUT=$D/gating timeout 300 sh bench/gating.sh 2> $D/gating.err | tail -8
echo "== done [$(el) s]"
