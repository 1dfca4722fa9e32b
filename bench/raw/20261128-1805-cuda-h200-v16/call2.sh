#!/bin/sh
# call 2: tests on the tree (FA with staged quantized rows); FA A/B head vs new (+ FA blocks knob);
# bisect of the 7B tg128 loss since v11 (12c56d6) over 8 commits.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $R/device.txt
( make CUDA=1 -j16 > $R/build-new.log 2>&1; echo $? > /tmp/b-new.rc ) &
C="12c56d6 96026e0 1d19846 fd0a4ea 1921f51 1e55da5 8aca03d f726dfd"
for v in $C; do rm -rf /tmp/$v; mkdir -p /tmp/$v; tar xzf .devrun/b-$v.tgz -C /tmp/$v
  ( cd /tmp/$v && make CUDA=1 -j16 CUDA_ARCH="-gencode arch=compute_90,code=sm_90" SERVER=0 build-cuda/zeta > $R/build-$v.log 2>&1; echo $? > /tmp/b-$v.rc ) & done
wait
echo "builds [$(el) s]: new $(cat /tmp/b-new.rc) $(for v in $C; do printf '%s %s ' $v $(cat /tmp/b-$v.rc); done)"
grep -i warning $R/build-new.log | head
M=/tmp/zeta-cuda-models; mkdir -p $M
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type q4_0 -o $M/s.gguf > $R/synth1.log 2>&1
  ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/b.gguf > $R/synth7.log 2>&1; echo done > $M/.done ) &
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
timeout 150 ./build-cuda/tests/test_cuda_kv > $R/test_cuda_kv.log 2>&1; echo "test_cuda_kv rc $? [$(el) s]"; grep -E "attention max|FAIL|passed|logits" $R/test_cuda_kv.log | head -40
while [ ! -f $M/.done ]; do sleep 2; done
echo "models [$(el) s]"
tg() { timeout 60 $1 bench --backend cuda -m $M/b.gguf -p 0 -n 128 -r 3 -o json > $R/tg7-$2-$3.json 2> $R/tg7-$2-$3.err
  echo "tg7 $2 r$3: $(grep -o '"tg_tps": [0-9.]*' $R/tg7-$2-$3.json)"; }
for r in 1 2; do for v in $C; do tg /tmp/$v/build-cuda/zeta $v $r; done; done
echo "[$(el) s]"
pp() { # bin name kv round [env]
  timeout 60 env $5 $1 bench --backend cuda -m $M/s.gguf -p 512 -n 0 -r 3 -d 4096,16384 -ctk $3 -ctv $3 -o json > $R/pp-$2-$3-$4.json 2> $R/pp-$2-$3-$4.err
  echo "pp $2 $3 r$4: $(grep -o '"pp_tps": [0-9.]*' $R/pp-$2-$3-$4.json | tr '\n' ' ')"; }
for r in 1 2; do for kv in f16 q8_0 q4_0; do pp /tmp/f726dfd/build-cuda/zeta head $kv $r X=1; pp ./build-cuda/zeta new $kv $r X=1; done; done
for b in 4 16; do pp ./build-cuda/zeta new-b$b f16 1 ZETA_CUDA_FATTN_BLOCKS=$b; pp ./build-cuda/zeta new-b$b q8_0 1 ZETA_CUDA_FATTN_BLOCKS=$b; done
echo "end [$(el) s]"
tar czf $OUT/r.tgz -C $OUT r
