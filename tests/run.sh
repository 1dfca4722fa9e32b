#!/bin/sh
# Runs every test binary in $BUILD/tests (from the repository root) and prints the totals.
# Last line: "N passed, N failed, N skipped". Exit status 1 if any case failed or a binary crashed.
# ZETA_EXEC, if set, is a command prefix for every test binary and for the scripts' zeta runs (e.g.
# "qemu-aarch64 -L /usr/aarch64-linux-gnu" for a cross build; see `make test-arm64`).
# ZETA_SKIP_SCRIPTS=1 runs only the C test binaries, not tests/test_*.sh (the goldens, which take
# many minutes under emulation). ZETA_TESTS="test_a test_b.sh" runs only those.
BUILD=${BUILD:-build}
export ZETA_EXEC
cd "$(dirname "$0")/.." || exit 1
passed=0; failed=0; skipped=0; crashed=0
log=$(mktemp)
for t in "$BUILD"/tests/test_* tests/test_*.sh; do
    [ -f "$t" ] || continue
    case "$t" in *.o|*.d) continue;; esac
    if [ -n "$ZETA_TESTS" ]; then # only these (names without directory)
        case " $ZETA_TESTS " in *" $(basename "$t") "*) ;; *) continue;; esac
    fi
    case "$t" in *.sh) [ "${ZETA_SKIP_SCRIPTS:-0}" = 1 ] && continue;; esac
    echo "== $(basename "$t")"
    case "$t" in *.sh) BUILD=$BUILD sh "$t" >"$log" 2>&1 ;; *) $ZETA_EXEC "$t" >"$log" 2>&1 ;; esac
    rc=$?
    cat "$log"
    p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^FAIL - ' "$log"); s=$(grep -c '^skip - ' "$log")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL - $(basename "$t") exited with status $rc"
        failed=$((failed + 1)); crashed=1
    fi
done
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
