#!/bin/sh
# run_all.sh — the side-by-side benchmark suite: makes the benchmark models if missing, then runs
# `zeta bench` and (when LLAMA_BENCH points at llama.cpp's llama-bench) llama-bench on the same
# files with the same thread counts, alternating the two engines run by run so that machine noise
# hits both, and saves every raw JSON output, each run's peak RSS (GNU time -v, or a Python
# getrusage wrapper), the machine's facts, a streaming-read memory bandwidth measurement
# (bench/membw) and the kernel microbenchmark (bench/kernel_bench) under
# bench/raw/<date>-<host>/. bench/analyze turns that directory into a dated section of
# bench/RESULTS.md and an SVG chart. Run it on a quiet machine: nothing else running.
#
#   bench/run_all.sh                      # everything, defaults below
#   LLAMA_BENCH=/path/to/llama-bench bench/run_all.sh
#
# Environment (defaults in brackets):
#   LLAMA_BENCH        llama-bench binary; unset: ZetaLm only
#   ZETA               the zeta CLI [build/zeta, built with make if missing]
#   ZETA_BENCH_MODELS  directory of the generated models [/work/models]
#   MODELS             which models, space-separated, from: q4_0 q8_0 q4_k_m f16 30m stories260k
#                      [all of them], or paths of other .gguf files
#   THREADS            thread counts, space-separated [2]
#   REPS               runs per engine, model and thread count [5]; each run is `-r 1`
#   PP, TG             prompt tokens and generated tokens [512, 128]
#   ZETA_ARGS, LLAMA_ARGS   extra arguments for each engine's command line []
#   MEMBW_MIB          array size of the bandwidth test [1024]
#   RUN_MEMBW          1: also measure the read bandwidth (256 MiB, best of 3, the run's thread count,
#                      ~0.5 s) just before every engine run, into runs.tsv; 0: skip [1]. On a VM the
#                      bandwidth can change from minute to minute (the Zen 4 VM here: 2 threads read
#                      either ~37 or ~64 GB/s), and a decode run is only comparable with the bandwidth
#                      of its own minute
#   KERNELS            1: also run build/kernel_bench (4096 x 4096, 1 thread) into kernels.md; 0: skip [1]
#   KERNEL_ARGS        its arguments, e.g. "-t 2 --big" []
#   OUT                raw output directory [bench/raw/<UTC date-time>-<host>]
#   NO_ANALYZE=1       do not run bench/analyze at the end
set -u
# paths given in the environment are relative to the caller's directory; the script runs from the root
CALLER_PWD=$(pwd)
abspath() { case $1 in /*|'') echo "$1" ;; *) echo "$CALLER_PWD/$1" ;; esac; }
[ -n "${LLAMA_BENCH:-}" ] && LLAMA_BENCH=$(abspath "$LLAMA_BENCH")
[ -n "${ZETA:-}" ] && ZETA=$(abspath "$ZETA")
[ -n "${ZETA_BENCH_MODELS:-}" ] && ZETA_BENCH_MODELS=$(abspath "$ZETA_BENCH_MODELS")
[ -n "${OUT:-}" ] && OUT=$(abspath "$OUT")
cd "$(dirname "$0")/.." || exit 1

ZETA=${ZETA:-build/zeta}
MODELS_DIR=${ZETA_BENCH_MODELS:-/work/models}
MODELS=${MODELS:-"q4_0 q8_0 q4_k_m f16 30m stories260k"}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
PP=${PP:-512}
TG=${TG:-128}
ZETA_ARGS=${ZETA_ARGS:-}
LLAMA_ARGS=${LLAMA_ARGS:-}
LLAMA_BENCH=${LLAMA_BENCH:-}
MEMBW_MIB=${MEMBW_MIB:-1024}
RUN_MEMBW=${RUN_MEMBW:-1}
KERNELS=${KERNELS:-1}
KERNEL_ARGS=${KERNEL_ARGS:-}
HOST=$(hostname -s 2>/dev/null || hostname)
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-bench/raw/$STAMP-$HOST}
DEMO_30M=../shared/goldens/models/zeta-demo-30m-F16.gguf

log() { echo "run_all: $*" >&2; }
die() { log "$*"; exit 1; }

[ -n "$LLAMA_BENCH" ] && { [ -x "$LLAMA_BENCH" ] || die "LLAMA_BENCH=$LLAMA_BENCH is not an executable file"; }
case $REPS in ''|*[!0-9]*) die "REPS must be a number";; esac
if [ ! -x "$ZETA" ]; then
    log "building $ZETA"
    make -s "$ZETA" || die "cannot build $ZETA"
fi
mkdir -p "$OUT" "$MODELS_DIR" || die "cannot create $OUT or $MODELS_DIR"
CMDS=$OUT/commands.txt
: > "$CMDS"
printf 'label\tpath\tthreads\trep\tengine\trc\tstarted_utc\tjson\ttime\tmembw_gbps\n' > "$OUT/runs.tsv"

# record a command line, then run it
run_logged() {
    echo "$*" >> "$CMDS"
    "$@"
}

# rss_run TIMEFILE cmd...: runs cmd; peak RSS of it goes to TIMEFILE as GNU time -v writes it
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    RSS_TOOL="GNU time -v"
    rss_run() { tf=$1; shift; /usr/bin/time -v -o "$tf" "$@"; }
else
    RSS_TOOL="python3 resource.getrusage(RUSAGE_CHILDREN)"
    rss_run() {
        tf=$1; shift
        python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("\tMaximum resident set size (kbytes): %d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    f.write("\tExit status: %d\n" % rc)
sys.exit(rc if rc >= 0 else 128 - rc)' "$tf" "$@"
    }
fi

# ------------------------------------------------------------------ models

# make_model LABEL -> prints the path (making the file if needed) or nothing
make_model() {
    case $1 in
    q4_0|q8_0|f16)
        up=$(echo "$1" | tr '[:lower:]' '[:upper:]')
        p=$MODELS_DIR/tinyllama-1.1b-$up.gguf
        if [ ! -s "$p" ]; then
            log "making $p"
            run_logged "$ZETA" synth --shape tinyllama-1.1b --type "$1" -o "$p" >&2 || { rm -f "$p"; return 1; }
        fi ;;
    q4_k_m)
        p=$MODELS_DIR/tinyllama-1.1b-Q4_K_M.gguf
        if [ ! -s "$p" ]; then
            f16=$(make_model f16) || return 1
            log "making $p (llama.cpp's Q4_K_M mix, from $f16)"
            run_logged "$ZETA" quantize "$f16" "$p" Q4_K_M >&2 || { rm -f "$p"; return 1; }
        fi ;;
    30m)
        p=$DEMO_30M
        [ -s "$p" ] || { log "skipping 30m: $p not found"; return 1; } ;;
    stories260k)
        p=models/stories260K.gguf
        [ -s "$p" ] || { log "skipping stories260k: $p not found"; return 1; } ;;
    *.gguf)
        p=$1
        case $p in /*) ;; *) [ -s "$p" ] || p=$CALLER_PWD/$p ;; esac
        [ -s "$p" ] || { log "skipping $p: not found"; return 1; } ;;
    *)
        log "unknown model '$1' (q4_0 q8_0 q4_k_m f16 30m stories260k or a .gguf path)"; return 1 ;;
    esac
    echo "$p"
}

# ------------------------------------------------------------------ machine facts

git_commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && git_commit="$git_commit (with uncommitted changes)"
{
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $HOST"
    echo "cpu: $( (lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1) || true)"
    echo "online_cpus: $(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
    echo "cores_per_socket: $(lscpu 2>/dev/null | sed -n 's/^Core(s) per socket:[[:space:]]*//p' | head -1)"
    echo "sockets: $(lscpu 2>/dev/null | sed -n 's/^Socket(s):[[:space:]]*//p' | head -1)"
    echo "threads_per_core: $(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core:[[:space:]]*//p' | head -1)"
    echo "caches: $(lscpu 2>/dev/null | sed -n 's/^\(L[123][di]* cache\):[[:space:]]*/\1 /p' | tr '\n' ';' | sed 's/;$//')"
    echo "memory: $(sed -n 's/^MemTotal:[[:space:]]*//p' /proc/meminfo 2>/dev/null)"
    echo "kernel: $(uname -srm)"
    echo "os: $( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || uname -s)"
    echo "cc: $(${CC:-cc} --version 2>/dev/null | head -1)"
    echo "zeta: $("$ZETA" version 2>&1 | head -1)"
    echo "zeta_binary: $ZETA"
    echo "commit: $git_commit"
    echo "llama_bench: ${LLAMA_BENCH:-none}"
    echo "rss_tool: $RSS_TOOL"
    echo "threads: $THREADS"
    echo "reps: $REPS"
    echo "pp: $PP"
    echo "tg: $TG"
    echo "zeta_args: $ZETA_ARGS"
    echo "llama_args: $LLAMA_ARGS"
    echo "load_before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
} > "$OUT/machine.txt"
log "raw results in $OUT"

# ------------------------------------------------------------------ memory bandwidth

bench/build.sh membw >&2 || die "cannot build build/membw"   # one small file: always rebuilt
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
tl=1
for t in $THREADS $ncpu; do
    case ",$tl," in *",$t,"*) ;; *) tl="$tl,$t" ;; esac
done
log "memory bandwidth (threads $tl)"
run_logged build/membw -m "$MEMBW_MIB" -t "$tl" -o json > "$OUT/membw.json" || log "membw failed"

# ------------------------------------------------------------------ kernel microbenchmark

if [ "$KERNELS" = 1 ]; then
    if bench/build.sh kernel_bench >&2; then
        log "kernel microbenchmark"
        # shellcheck disable=SC2086
        run_logged build/kernel_bench $KERNEL_ARGS > "$OUT/kernels.md" || log "kernel_bench failed (or a result check failed)"
    else
        log "cannot build build/kernel_bench"
    fi
fi

# ------------------------------------------------------------------ the runs

paths=""
for m in $MODELS; do
    p=$(make_model "$m") || continue
    paths="$paths $p"
done
[ -n "$paths" ] || die "no models to run"

n_fail=0
for p in $paths; do
    label=$(basename "$p" .gguf)
    for t in $THREADS; do
        rep=1
        while [ "$rep" -le "$REPS" ]; do
            # alternate which engine goes first, so neither always runs on a warmer (or hotter) machine
            if [ -n "$LLAMA_BENCH" ]; then
                if [ $((rep % 2)) -eq 1 ]; then engines="zeta llama"; else engines="llama zeta"; fi
            else
                engines="zeta"
            fi
            for e in $engines; do
                base=$OUT/$label.t$t.rep$rep.$e
                bw=-
                if [ "$RUN_MEMBW" = 1 ]; then
                    bw=$(build/membw -m 256 -t "$t" -r 3 -o json 2>/dev/null |
                         sed -n 's/.*"read_gbps": *\([0-9.]*\).*/\1/p' | head -1)
                    [ -n "$bw" ] || bw=-
                fi
                started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
                log "$label t=$t rep $rep/$REPS: $e"
                if [ "$e" = zeta ]; then
                    # shellcheck disable=SC2086
                    set -- "$ZETA" bench -m "$p" -p "$PP" -n "$TG" -t "$t" -r 1 -o json $ZETA_ARGS
                else
                    # shellcheck disable=SC2086
                    set -- "$LLAMA_BENCH" -m "$p" -p "$PP" -n "$TG" -t "$t" -r 1 -o json $LLAMA_ARGS
                fi
                echo "$*" >> "$CMDS"
                rss_run "$base.time" "$@" > "$base.json" 2> "$base.err"
                rc=$?
                [ "$rc" -eq 0 ] || { n_fail=$((n_fail + 1)); log "  failed (rc $rc), see $base.err"; }
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$p" "$t" "$rep" "$e" "$rc" "$started" \
                    "$(basename "$base.json")" "$(basename "$base.time")" "$bw" >> "$OUT/runs.tsv"
            done
            rep=$((rep + 1))
        done
    done
done
echo "load_after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" >> "$OUT/machine.txt"
echo "finished_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$OUT/machine.txt"
log "done: $OUT ($n_fail failed runs)"

if [ "${NO_ANALYZE:-0}" != 1 ]; then
    python3 bench/analyze "$OUT" || log "bench/analyze failed"
fi
[ "$n_fail" -eq 0 ]
