#!/bin/sh
# Replays every seed and regression input in tests/fuzz/corpus/<target>/ through its fuzz target,
# built without libFuzzer ($BUILD/fuzz/replay_<target>): a crash or failed property is a failure
# on any compiler (under ASan/UBSan in `make sanitize-test`). `make fuzz` does the fuzzing itself.
BUILD=${BUILD:-build}
found=0
for bin in "$BUILD"/fuzz/replay_*; do
    [ -x "$bin" ] || continue
    found=1
    t=${bin##*/replay_}
    if [ ! -d "tests/fuzz/corpus/$t" ]; then echo "FAIL - replay $t: no corpus tests/fuzz/corpus/$t"; continue; fi
    $ZETA_EXEC "$bin" "tests/fuzz/corpus/$t" || echo "FAIL - replay $t crashed or failed a property (status $?)"
done
[ "$found" = 1 ] || echo "FAIL - no replay binaries in $BUILD/fuzz (make all builds them)"
exit 0
