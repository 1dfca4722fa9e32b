#!/bin/sh
# bench/cuda_prof.sh — run ON THE GPU MACHINE from the repository root: per-kernel times of ZetaLm's
# decode step under Nsight Compute. Builds with make CUDA=1, writes the TinyLlama-1.1B-shaped Q4_0
# and (BIG=1) Llama-2-7B-shaped Q4_0 models with `zeta synth`, profiles SKIP..SKIP+COUNT kernel
# launches of a decode-only `zeta bench` (decode steps eager, ZETA_CUDA_GRAPH=0, so each kernel is
# one launch; clocks and caches left as they are, so durations are the kernels' own, without the
# gaps between them), and prints per kernel name: launches, total and mean duration, DRAM read GB/s,
# registers and achieved occupancy; then the warp stall reasons of the matrix-vector kernels
# (STALL=1; STALL_K=REGEX another kernel); SHAPES="llama-2-7b" picks the shapes. PP=1 profiles a prompt instead (one pp512, eager; SKIP defaults to 0: the upload's
# split kernels then show as k_split). SPARSE=1 profiles the sparse pass (--mode sparse --level LEVEL
# [0.5]) with the sparsity file MODEL.sparsity next to each model (bench/cuda_gating.sh writes them).
# MODEL=FILE.gguf profiles that file instead.
# Raw CSVs go to $OUT (or /tmp/cuda_prof).
set -u
OUT=${OUT:-/tmp/cuda_prof}
# DEPTH=N decodes after N tokens in the cache (-d N), CT=q8_0 picks the KV type (K and V), KERNELS=REGEX
# profiles only the kernels whose names match (SKIP and COUNT then count those alone; SKIP defaults to 0).
KF=""
[ -n "${KERNELS:-}" ] && { KF="--kernel-name regex:$KERNELS"; SKIP=${SKIP:-0}; }
if [ "${PP:-0}" = 1 ]; then SKIP=${SKIP:-0}; COUNT=${COUNT:-2000}; ARGS="-p 512 -n 0"
else SKIP=${SKIP:-3000}; COUNT=${COUNT:-600}; ARGS="-p 0 -n 64"; fi
ARGS="$ARGS -d ${DEPTH:-0} -ctk ${CT:-f16} -ctv ${CT:-f16}"
mkdir -p "$OUT"
make CUDA=1 -j16 > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
M=/tmp/zeta-cuda-models
mkdir -p $M
SH=${SHAPES:-tinyllama-1.1b}
[ "${BIG:-0}" = 1 ] && [ -z "${SHAPES:-}" ] && SH="$SH llama-2-7b"
[ -n "${MODEL:-}" ] && SH=model   # MODEL=FILE.gguf: profile that file instead of the synth models
for sh in $SH; do
    f=$M/$sh-q4_0.gguf
    [ -n "${MODEL:-}" ] && f=$MODEL
    [ -f $f ] || ./build-cuda/zeta synth --shape $sh --type q4_0 -o $f > /dev/null 2>&1
    A2=$ARGS
    [ "${SPARSE:-0}" = 1 ] && A2="$ARGS --sparsity $M/$sh-q4_0.sparsity --mode sparse --level ${LEVEL:-0.5}"
    ZETA_CUDA_GRAPH=0 ncu --clock-control none --cache-control none $KF --launch-skip "$SKIP" --launch-count "$COUNT" --csv --metrics \
        gpu__time_duration.sum,dram__bytes_read.sum,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size \
        ./build-cuda/zeta bench --backend cuda -m $f $A2 -r 1 > "$OUT/ncu-$sh.csv" 2> "$OUT/ncu-$sh.err"
    echo "== $sh q4_0 ($A2): kernels $SKIP..$((SKIP + COUNT))"
    python3 - "$OUT/ncu-$sh.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
h = rows[0]; ix = {k: h.index(k) for k in ('ID', 'Kernel Name', 'Metric Name', 'Metric Value')}
k = collections.defaultdict(dict)
for r in rows[1:]:
    k[(r[ix['ID']], r[ix['Kernel Name']].split('(')[0].split('<')[0])][r[ix['Metric Name']]] = float(r[ix['Metric Value']].replace(',', ''))
agg = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
for (i, name), m in k.items():
    if name.endswith(('k_mmvq', 'k_smv', 'k_smvb', 'k_mmvk', 'k_mmv1')): name += '/%d' % m.get('launch__grid_size', 0)  # one line per product shape
    a = agg[name]; a[0] += 1; a[1] += m.get('gpu__time_duration.sum', 0); a[2] += m.get('dram__bytes_read.sum', 0)
    a[3] = m.get('launch__registers_per_thread', 0); a[4] += m.get('sm__warps_active.avg.pct_of_peak_sustained_active', 0)
tot = sum(a[1] for a in agg.values())
print('%-26s %6s %10s %7s %9s %6s %5s %6s' % ('kernel[/grid]', 'n', 'total us', 'share', 'mean us', 'GB/s', 'regs', 'occ%'))
for name, a in sorted(agg.items(), key=lambda x: -x[1][1]):
    print('%-26s %6d %10.1f %6.1f%% %9.2f %6.0f %5d %6.1f' % (name[-26:], a[0], a[1] / 1e3, 100 * a[1] / tot, a[1] / a[0] / 1e3,
          a[2] / a[1] if a[1] else 0, a[3], a[4] / a[0]))
print('sum of kernel time: %.1f us over %d launches' % (tot / 1e3, sum(a[0] for a in agg.values())))
PY
    if [ "${STALL:-0}" = 1 ]; then
        ZETA_CUDA_GRAPH=0 ncu --launch-skip 200 --launch-count 3 -k regex:${STALL_K:-k_mmvq} --section WarpStateStats --section MemoryWorkloadAnalysis \
            --section LaunchStats --section Occupancy ./build-cuda/zeta bench --backend cuda -m $f $A2 -r 1 > "$OUT/stall-$sh.txt" 2>&1
        grep -E "Stall|Warp Cycles|Throughput|Registers|Achieved Occupancy|Theoretical Occupancy|Block Limit|Mem Busy|Max Bandwidth|L1/TEX Hit|L2 Hit|Duration" "$OUT/stall-$sh.txt" | head -60
    fi
done
