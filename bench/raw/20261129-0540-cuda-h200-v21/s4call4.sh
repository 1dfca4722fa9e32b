#!/bin/sh
# session 36 call 4: the 7B shape in q4_K against llama.cpp (same run, same file), with the CUDA tests
set -u
OUT=$OUT/r LLAMA_SRC=.llama-src-slim2/llama.txz REPS=3 ENERGY='llama-2-7b' SYNTH="q4_K:llama-2-7b" DEADLINE=480 \
  timeout 585 sh bench/cuda_run.sh > $OUT/run.txt 2>&1
echo "rc $?"; tail -25 $OUT/run.txt
tar czf $OUT/r.tgz -C $OUT r run.txt
