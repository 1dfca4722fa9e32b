#!/bin/sh
set -u
nvcc -O3 -arch=sm_90 bench/cuda_runs.cu -o /tmp/cuda_runs && /tmp/cuda_runs | tee $OUT/runs.txt
