#!/bin/sh
# call 4: k_mmvq in its own module (tree) vs HEAD vs fd0a4ea (7B tg128); tests; then same run as
# llama.cpp: 7B Q4_0 tg128 / pp512 and the KV depths (cuda_kv.sh).
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $R/device.txt
LD=/tmp/llama-src; rm -rf $LD; mkdir -p $LD; tar xJf .llama-src-slim2/llama.txz -C $LD
( cd $LD && cmake -B build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF > $R/llama_build.log 2>&1 \
  && nice -n 5 cmake --build build -j16 --target llama-bench >> $R/llama_build.log 2>&1; echo "rc=$?" > /tmp/llama.rc ) &
( make CUDA=1 -j16 > $R/build-new.log 2>&1; echo $? > /tmp/b-new.rc ) &
C="fd0a4ea head"
for v in $C; do rm -rf /tmp/$v; mkdir -p /tmp/$v; tar xzf .devrun/b-$v.tgz -C /tmp/$v
  ( cd /tmp/$v && make CUDA=1 -j16 CUDA_ARCH="-gencode arch=compute_90,code=sm_90" SERVER=0 build-cuda/zeta > $R/build-$v.log 2>&1; echo $? > /tmp/b-$v.rc ) & done
while [ ! -f /tmp/b-new.rc ] || [ ! -f /tmp/b-fd0a4ea.rc ] || [ ! -f /tmp/b-head.rc ]; do sleep 2; done
echo "builds [$(el) s]: new $(cat /tmp/b-new.rc) $(for v in $C; do printf '%s %s ' $v $(cat /tmp/b-$v.rc); done)"
grep -i warning $R/build-new.log | head
M=/tmp/zeta-cuda-models; mkdir -p $M
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type q4_0 -o $M/tinyllama-1.1b-q4_0.gguf > $R/synth1.log 2>&1
  ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/b.gguf > $R/synth7.log 2>&1; echo done > $M/.done ) &
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
grep -E "^    (stories|zoo|synth)" $R/test_cuda.log | cut -c1-110 | head -8
timeout 150 ./build-cuda/tests/test_cuda_kv > $R/test_cuda_kv.log 2>&1; echo "test_cuda_kv rc $? [$(el) s]"; tail -1 $R/test_cuda_kv.log
timeout 100 ./build-cuda/tests/test_cuda_sparse > $R/test_cuda_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]"; tail -1 $R/test_cuda_sparse.log
while [ ! -f $M/.done ]; do sleep 2; done
echo "models [$(el) s]"
tg() { timeout 60 $1 bench --backend cuda -m $M/b.gguf -p 0 -n 128 -r 3 -o json > $R/tg7-$2-$3.json 2> $R/tg7-$2-$3.err
  echo "tg7 $2 r$3: $(grep -o '"tg_tps": [0-9.]*' $R/tg7-$2-$3.json)"; }
for r in 1 2 3; do tg /tmp/fd0a4ea/build-cuda/zeta fd0a4ea $r; tg /tmp/head/build-cuda/zeta head $r; tg ./build-cuda/zeta new $r; done
tg1() { timeout 60 $1 bench --backend cuda -m $M/tinyllama-1.1b-q4_0.gguf -p 0 -n 128 -r 3 -o json > $R/tg1-$2-$3.json 2> $R/tg1-$2-$3.err
  echo "tg1 $2 r$3: $(grep -o '"tg_tps": [0-9.]*' $R/tg1-$2-$3.json)"; }
for r in 1 2; do tg1 /tmp/head/build-cuda/zeta head $r; tg1 ./build-cuda/zeta new $r; done
echo "[$(el) s] waiting for llama.cpp"
while [ ! -f /tmp/llama.rc ] && [ $(el) -lt 400 ]; do sleep 3; done
cat /tmp/llama.rc 2>/dev/null; grep -i "error" $R/llama_build.log | head -3
LB=$LD/build/bin/llama-bench
if [ -x $LB ]; then
  for r in 1 2; do
    ./build-cuda/zeta bench --backend cuda -m $M/b.gguf -p 512 -n 128 -r 3 -o json > $R/z7-$r.json 2> $R/z7-$r.err
    $LB -m $M/b.gguf -p 512 -n 128 -ngl 99 -r 3 -o json > $R/l7-$r.json 2> $R/l7-$r.err
    echo "7B r$r zeta: $(grep -o '"\(pp\|tg\)_tps": [0-9.]*' $R/z7-$r.json | tr '\n' ' ') llama: $(grep -o '"avg_ts": [0-9.]*' $R/l7-$r.json | tr '\n' ' ')"
  done
  OUT=$R/kv DEPTHS=0,4096,16384 REPS=3 LB=$LB sh bench/cuda_kv.sh 2>&1 | tail -22
fi
echo "end [$(el) s]"
tar czf $OUT/r.tgz -C $OUT r
