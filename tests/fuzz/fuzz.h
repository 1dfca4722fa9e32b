/* fuzz.h — the fuzz targets (tests/fuzz/fuzz_<target>.c). Each defines LLVMFuzzerTestOneInput and
 * checks properties with FUZZ_CHECK, which aborts (a crash libFuzzer records) when one fails.
 * `make fuzz` links them with libFuzzer; the test suite links them with replay_main.c and runs
 * every file of tests/fuzz/corpus/<target>/ through them (tests/test_fuzz_replay.sh). */
#ifndef ZETA_FUZZ_H
#define ZETA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                          \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#endif
