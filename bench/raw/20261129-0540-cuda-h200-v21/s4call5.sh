#!/bin/sh
# session 36 call 5: k_mmvk8 with the next iteration's weights in flight (default) against ZETA_CUDA_MMVK8_PF=0
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type f16 -o $M/t-f16.gguf > $R/synth.log 2>&1
  ./build-cuda/zeta quantize $M/t-f16.gguf $M/q4km.gguf Q4_K_M >> $R/synth.log 2>&1
  ./build-cuda/zeta quantize $M/t-f16.gguf $M/q6k.gguf Q6_K >> $R/synth.log 2>&1; rm -f $M/t-f16.gguf
  ./build-cuda/zeta synth --shape llama-2-7b --type q4_K -o $M/q4k7.gguf >> $R/synth.log 2>&1; echo ok > $M/.s ) &
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]: $(tail -1 $R/test_cuda.log)"
grep -E "^not ok|check failed" $R/test_cuda.log | head -5
timeout 200 ./build-cuda/tests/test_cuda_model > $R/test_cuda_model.log 2>&1; echo "test_cuda_model rc $? [$(el) s]: $(tail -1 $R/test_cuda_model.log)"
grep -E "^not ok|check failed" $R/test_cuda_model.log | head -5
grep -E "zoo-Q[456]_K|zoo-Q[23]_K|IQ4_XS" $R/test_cuda_model.log | head -8
while [ ! -f $M/.s ]; do sleep 2; done
echo "synth [$(el) s]"
tg() { python3 -c "import json,sys; t=open(sys.argv[1]).read(); d=json.loads(t[t.index('['):]); print(round(d[0]['tg_tps'],1))" "$1" 2>/dev/null || echo "-"; }
for r in 1 2 3; do
  for m in q4k7 q4km q6k; do
    line="round $r $m:"
    for pf in 1 0; do
      ZETA_CUDA_MMVK8_PF=$pf timeout 60 ./build-cuda/zeta bench --backend cuda -m $M/$m.gguf -p 0 -n 128 -r 3 -o json > $R/$m-pf$pf-r$r.json 2>/dev/null
      line="$line pf=$pf $(tg $R/$m-pf$pf-r$r.json)"
    done
    echo "$line [$(el) s]"
  done
done
tar czf $OUT/r.tgz -C $OUT r
