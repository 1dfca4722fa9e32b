#!/bin/sh
# build.sh — builds the benchmark programs of bench/ against the library: build/kernel_bench,
# build/attn_bench, build/sparse_bench and build/gate_steps (bench/kernel_bench.c, attn_bench.c, sparse_bench.c,
# gate_steps.c: need the library's internal headers)
# and build/membw (bench/membw.c, standalone). Run from anywhere; builds the library first with
# `make lib` unless NO_MAKE=1.
#   bench/build.sh [kernel_bench|attn_bench|sparse_bench|membw ...]      (default: all four)
# Environment: CC (cc), BUILD (build), OPT (-O2), MAKE (make), LIBS (extra link flags: a CUDA build's library,
# BUILD=build-cuda LIBS="-L$CUDA_HOME/lib64 -lcublas -lcudart -lstdc++", with `make CUDA=1` run first and NO_MAKE=1).
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-cc}
BUILD=${BUILD:-build}
OPT=${OPT:-"-O2"}
MAKE=${MAKE:-make}
targets=${*:-"kernel_bench attn_bench sparse_bench membw"}
# OPT and FLAGS are lists of flags: split on purpose
FLAGS="-std=c11 -g -Wall -Wextra -Wno-unused-parameter -pthread -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"

for t in $targets; do
    case $t in
    kernel_bench | attn_bench | sparse_bench | gate_steps)
        [ "${NO_MAKE:-0}" = 1 ] || $MAKE -s BUILD="$BUILD" CC="$CC" "$BUILD/libzeta.a"
        echo "$CC $OPT $FLAGS -Iinclude -Isrc bench/$t.c $BUILD/libzeta.a -lm ${LIBS:-} -o $BUILD/$t"
        # shellcheck disable=SC2086
        $CC $OPT $FLAGS -Iinclude -Isrc "bench/$t.c" "$BUILD/libzeta.a" -lm ${LIBS:-} -o "$BUILD/$t"
        ;;
    membw)
        mkdir -p "$BUILD"
        # -O3: let the compiler vectorize the summing loop
        echo "$CC -O3 $FLAGS bench/membw.c -o $BUILD/membw"
        # shellcheck disable=SC2086
        $CC -O3 $FLAGS bench/membw.c -o "$BUILD/membw"
        ;;
    *) echo "build.sh: unknown target '$t' (kernel_bench, attn_bench, sparse_bench, gate_steps, membw)" >&2; exit 2 ;;
    esac
done
