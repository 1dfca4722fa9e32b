#!/bin/sh
# session 36 call 6: bf16 prompts as bf16 GEMMs on the stored weights (x in 3 bf16 parts) against the TF32 split
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type f16 -o $M/t-f16.gguf > $R/synth.log 2>&1
  ./build-cuda/zeta quantize $M/t-f16.gguf $M/bf16.gguf BF16 >> $R/synth.log 2>&1; rm -f $M/t-f16.gguf; echo ok > $M/.s ) &
timeout 150 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]: $(tail -1 $R/test_cuda.log)"
grep -E "^not ok|check failed" $R/test_cuda.log | head -5; grep -E "bf16" $R/test_cuda.log | head -8
ZETA_CUDA_B16=2 timeout 150 ./build-cuda/tests/test_cuda > $R/test_cuda2.log 2>&1; echo "test_cuda (2 parts) rc $? [$(el) s]: $(tail -1 $R/test_cuda2.log)"
grep -E "check failed" $R/test_cuda2.log | grep -i bf16 | head -5; grep -E "bf16" $R/test_cuda2.log | head -4
timeout 150 ./build-cuda/tests/test_cuda_model > $R/test_cuda_model.log 2>&1; echo "test_cuda_model rc $? [$(el) s]: $(tail -1 $R/test_cuda_model.log)"
grep -E "^not ok|check failed" $R/test_cuda_model.log | head -5; grep -E "BF16" $R/test_cuda_model.log | head -4
while [ ! -f $M/.s ]; do sleep 2; done
echo "synth [$(el) s]"
pp() { python3 -c "import json,sys; t=open(sys.argv[1]).read(); d=json.loads(t[t.index('['):]); print(round(d[0]['pp_tps'],1))" "$1" 2>/dev/null || echo "-"; }
for r in 1 2 3; do
  line="round $r bf16 pp512:"
  for b in 1 0 2; do
    ZETA_CUDA_B16=$b timeout 60 ./build-cuda/zeta bench --backend cuda -m $M/bf16.gguf -p 512 -n 0 -r 3 -o json > $R/b$b-r$r.json 2>/dev/null
    line="$line B16=$b $(pp $R/b$b-r$r.json)"
  done
  echo "$line [$(el) s]"
done
tar czf $OUT/r.tgz -C $OUT r
