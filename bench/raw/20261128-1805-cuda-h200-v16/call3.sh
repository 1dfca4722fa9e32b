#!/bin/sh
# call 3: llama.cpp built in the background; tests on the tree (FA fast code expansion); FA A/B
# b954588 vs new; the 1921f51 loss: SASS diff and module loading; then cuda_kv.sh with llama.cpp.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $R/device.txt
LD=/tmp/llama-src; rm -rf $LD; mkdir -p $LD; tar xJf .llama-src-slim2/llama.txz -C $LD
( cd $LD && cmake -B build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF > $R/llama_build.log 2>&1 \
  && nice -n 5 cmake --build build -j16 --target llama-bench >> $R/llama_build.log 2>&1; echo "rc=$?" > /tmp/llama.rc ) &
( make CUDA=1 -j16 > $R/build-new.log 2>&1; echo $? > /tmp/b-new.rc ) &
C="fd0a4ea 1921f51 b954588"
for v in $C; do rm -rf /tmp/$v; mkdir -p /tmp/$v; tar xzf .devrun/b-$v.tgz -C /tmp/$v
  ( cd /tmp/$v && make CUDA=1 -j16 CUDA_ARCH="-gencode arch=compute_90,code=sm_90" SERVER=0 build-cuda/zeta > $R/build-$v.log 2>&1; echo $? > /tmp/b-$v.rc ) & done
while [ ! -f /tmp/b-new.rc ] || [ ! -f /tmp/b-fd0a4ea.rc ] || [ ! -f /tmp/b-1921f51.rc ] || [ ! -f /tmp/b-b954588.rc ]; do sleep 2; done
echo "builds [$(el) s]: new $(cat /tmp/b-new.rc) $(for v in $C; do printf '%s %s ' $v $(cat /tmp/b-$v.rc); done)"
grep -i warning $R/build-new.log | head
M=/tmp/zeta-cuda-models; mkdir -p $M
( ./build-cuda/zeta synth --shape tinyllama-1.1b --type q4_0 -o $M/tinyllama-1.1b-q4_0.gguf > $R/synth1.log 2>&1
  ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/b.gguf > $R/synth7.log 2>&1; echo done > $M/.done ) &
./.devrun/t_codes
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
timeout 150 ./build-cuda/tests/test_cuda_kv > $R/test_cuda_kv.log 2>&1; echo "test_cuda_kv rc $? [$(el) s]"; grep -E "attention max|FAIL|passed" $R/test_cuda_kv.log | head -40
timeout 100 ./build-cuda/tests/test_cuda_sparse > $R/test_cuda_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]"; tail -1 $R/test_cuda_sparse.log
# SASS of the decode products, before / after 1921f51
for v in fd0a4ea 1921f51; do cuobjdump -sass /tmp/$v/build-cuda/src/cuda/cuda_matmul.o > $R/sass-$v.txt 2>&1; done
python3 - $R <<'PY'
import re, sys
R = sys.argv[1]
def funcs(p):
    d = {}; cur = None
    for l in open(p):
        m = re.search(r'Function : (\S+)', l)
        if m: cur = m.group(1); d[cur] = []; continue
        if cur:
            m = re.search(r'/\*[0-9a-f]{4}\*/\s+(.*?);', l)
            if m: d[cur].append(m.group(1))
    return d
a = funcs(R + '/sass-fd0a4ea.txt'); b = funcs(R + '/sass-1921f51.txt')
print('functions', len(a), len(b))
nd = 0
for k in a:
    if k in b and a[k] != b[k]:
        nd += 1
        if nd <= 12: print('SASS differs:', k, len(a[k]), len(b[k]))
print('differing', nd, 'of', len([k for k in a if k in b]))
PY
while [ ! -f $M/.done ]; do sleep 2; done
echo "models [$(el) s]"
tg() { timeout 60 env $4 $1 bench --backend cuda -m $M/b.gguf -p 0 -n 128 -r 3 -o json > $R/tg7-$2-$3.json 2> $R/tg7-$2-$3.err
  echo "tg7 $2 r$3 $4: $(grep -o '"tg_tps": [0-9.]*' $R/tg7-$2-$3.json)"; }
for r in 1 2; do for v in fd0a4ea 1921f51; do tg /tmp/$v/build-cuda/zeta $v $r X=1; tg /tmp/$v/build-cuda/zeta $v-eager $r CUDA_MODULE_LOADING=EAGER; done; done
echo "[$(el) s]"
pp() { timeout 60 $1 bench --backend cuda -m $M/tinyllama-1.1b-q4_0.gguf -p 512 -n 0 -r 3 -d 4096,16384 -ctk $3 -ctv $3 -o json > $R/pp-$2-$3-$4.json 2> $R/pp-$2-$3-$4.err
  echo "pp $2 $3 r$4: $(grep -o '"pp_tps": [0-9.]*' $R/pp-$2-$3-$4.json | tr '\n' ' ')"; }
for r in 1 2; do for kv in q8_0 q4_0; do pp /tmp/b954588/build-cuda/zeta b954588 $kv $r; pp ./build-cuda/zeta new $kv $r; done; done
echo "[$(el) s] waiting for llama.cpp"
while [ ! -f /tmp/llama.rc ] && [ $(el) -lt 420 ]; do sleep 3; done
cat /tmp/llama.rc 2>/dev/null; tail -2 $R/llama_build.log
if [ -x $LD/build/bin/llama-bench ]; then
  OUT=$R/kv DEPTHS=0,4096,16384 REPS=3 LB=$LD/build/bin/llama-bench sh bench/cuda_kv.sh 2>&1 | tail -24
fi
echo "end [$(el) s]"
tar czf $OUT/r.tgz -C $OUT r
