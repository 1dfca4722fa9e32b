#!/bin/sh
# call 5: the whole script on today's final code, same run as llama.cpp d32676d77: 1.1B Q4_0 / Q8_0,
# 7B Q4_0, and the five types not yet measured against llama.cpp on the GPU; energy for Q4_0 / Q8_0.
mkdir -p $OUT/r
OUT=$OUT/r LLAMA_SRC=.llama-src-slim2/llama.txz BIG=1 REPS=3 ENERGY='q4_0|q8_0' \
  SYNTH="q4_0:tinyllama-1.1b q8_0:tinyllama-1.1b q2_k:tinyllama-1.1b q5_k_m:tinyllama-1.1b q5_1:tinyllama-1.1b iq4_nl:tinyllama-1.1b bf16:tinyllama-1.1b" \
  sh bench/cuda_run.sh > $OUT/r/run.txt 2>&1
tail -45 $OUT/r/run.txt
tar czf $OUT/r.tgz -C $OUT r
