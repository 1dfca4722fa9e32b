#!/bin/sh
# call 1: test the tree (new FA prompt kernel + untested commits), A/B the FA kernel (head vs new vs
# FA_MINB64=3), and 7B tg128 of v11 (12c56d6) vs head vs new.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $R/device.txt
( make CUDA=1 -j16 > $R/build-new.log 2>&1; echo $? > /tmp/b-new.rc ) &
for v in head v11; do rm -rf /tmp/$v; mkdir -p /tmp/$v; tar xzf .devrun/$v.tgz -C /tmp/$v
  ( cd /tmp/$v && make CUDA=1 -j16 build-cuda/zeta > $R/build-$v.log 2>&1; echo $? > /tmp/b-$v.rc ) & done
rm -rf /tmp/m3; mkdir -p /tmp/m3; cp -r src include tools Makefile zeta.pc.in /tmp/m3/
( cd /tmp/m3 && make CUDA=1 -j16 CUDA_ARCH="-gencode arch=compute_90,code=sm_90 -DFA_MINB64=3" build-cuda/zeta > $R/build-m3.log 2>&1; echo $? > /tmp/b-m3.rc ) &
wait
echo "builds [$(el) s]: new $(cat /tmp/b-new.rc) head $(cat /tmp/b-head.rc) v11 $(cat /tmp/b-v11.rc) m3 $(cat /tmp/b-m3.rc)"
grep -i warning $R/build-new.log | head
M=/tmp/zeta-cuda-models; mkdir -p $M
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type q4_0 -o $M/s.gguf > $R/synth1.log 2>&1
  ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/b.gguf > $R/synth7.log 2>&1; echo done > $M/.done ) &
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
timeout 150 ./build-cuda/tests/test_cuda_kv > $R/test_cuda_kv.log 2>&1; echo "test_cuda_kv rc $? [$(el) s]"; grep -E "attention max|FAIL|passed" $R/test_cuda_kv.log | head -20
timeout 100 ./build-cuda/tests/test_cuda_sparse > $R/test_cuda_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]"; tail -1 $R/test_cuda_sparse.log
while [ ! -f $M/.done ]; do sleep 2; done
echo "models [$(el) s]"
Z_new=./build-cuda/zeta; Z_head=/tmp/head/build-cuda/zeta; Z_v11=/tmp/v11/build-cuda/zeta; Z_m3=/tmp/m3/build-cuda/zeta
pp() { # bin name kv round
  timeout 60 $1 bench --backend cuda -m $M/s.gguf -p 512 -n 0 -r 3 -d 4096,16384 -ctk $3 -ctv $3 -o json > $R/pp-$2-$3-$4.json 2> $R/pp-$2-$3-$4.err
  echo "pp $2 $3 r$4: $(grep -o '"\(pp\|tg\)_tps": [0-9.]*' $R/pp-$2-$3-$4.json | tr '\n' ' ')"; }
for r in 1 2; do for kv in f16 q8_0; do for b in head new m3; do eval pp \$Z_$b $b $kv $r; done; done; done
echo "[$(el) s]"
tg() { timeout 60 $1 bench --backend cuda -m $M/b.gguf -p 0 -n 128 -r 3 -o json > $R/tg7-$2-$3.json 2> $R/tg7-$2-$3.err
  echo "tg7 $2 r$3: $(grep -o '"\(pp\|tg\)_tps": [0-9.]*' $R/tg7-$2-$3.json | tr '\n' ' ')"; }
for r in 1 2 3; do for b in v11 head new; do eval tg \$Z_$b $b $r; done; done
echo "[$(el) s]"
for r in 1 2; do for b in head new; do eval B=\$Z_$b
  timeout 60 $B bench --backend cuda -m $M/b.gguf -p 512 -n 0 -r 2 -d 8192 -o json > $R/pp7-$b-$r.json 2> $R/pp7-$b-$r.err
  echo "pp7 d8192 $b r$r: $(grep -o '"\(pp\|tg\)_tps": [0-9.]*' $R/pp7-$b-$r.json | tr '\n' ' ')"; done; done
echo "end [$(el) s]"
tar czf $OUT/r.tgz -C $OUT r
