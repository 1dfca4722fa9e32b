#!/bin/sh
set -u
D=/tmp/c5; rm -rf $D; mkdir -p $D
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 > $D/build.log 2>&1 || { tail -30 $D/build.log; exit 1; }
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type f16 -o $M/tinyllama-1.1b-f16.gguf > $D/synth.log 2>&1; echo done > $M/.f16 ) &
echo "== test_cuda [$(el) s]"
timeout 100 ./build-cuda/tests/test_cuda > $D/test_cuda.log 2>&1; echo "test_cuda rc $?"
grep -E "^(FAIL|skip) - |passed|check failed|F16|f16 |bf16 " $D/test_cuda.log | grep -v argmax | head -30
while [ ! -f $M/.f16 ]; do sleep 1; done
echo "== A/B [$(el) s]"
for r in 1 2; do for v in X=1 ZETA_CUDA_MMVF=0; do
  env $v ./build-cuda/zeta bench --backend cuda -m $M/tinyllama-1.1b-f16.gguf -p 0 -n 128 -r 3 -o json 2>/dev/null | python3 -c "import json,sys; t=sys.stdin.read(); d=json.loads(t[t.index('['):]); print('f16', '$v', round(d[0]['tg_tps'],1))"
done; done
echo "== done [$(el) s]"
