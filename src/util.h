/* util.h — small shared helpers of the library: error reporting into zeta_error and
 * overflow-checked size arithmetic for values that come from files or callers. */
#ifndef ZETA_UTIL_H
#define ZETA_UTIL_H

#include "zeta.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define ZETA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ZETA_PRINTF(a, b)
#endif

/* Fills err (if non-NULL) with status and a printf-formatted message; returns status. */
zeta_status zeta_fail(zeta_error *err, zeta_status status, const char *fmt, ...) ZETA_PRINTF(3, 4);
/* Sets err to ZETA_OK with an empty message; returns ZETA_OK. */
zeta_status zeta_ok(zeta_error *err);

/* Checked arithmetic: return false on overflow (and leave *out unspecified). */
static inline bool zeta_add_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool zeta_mul_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool zeta_add_size(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool zeta_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* malloc/calloc that return NULL for a zero or overflowing request instead of UB. */
void *zeta_malloc_array(size_t n, size_t size);
void *zeta_calloc_array(size_t n, size_t size);

/* Monotonic clock in milliseconds. */
double zeta_now_ms(void);
/* Bytes of physical memory (sysconf), 0 when unknown: allocations larger than this are refused
 * up front with the size needed, instead of failing later or waking the OOM killer. */
uint64_t zeta_physical_memory(void);
/* A large read-mostly buffer (repacked weights): 2 MiB aligned, rounded up to 2 MiB, and marked
 * for transparent huge pages where the kernel offers them (madvise mode is the common default, in
 * which a plain malloc gets 4 KiB pages). Streaming reads then take a TLB miss every 2 MiB instead
 * of every 4 KiB (the 1.1B Q4_0 decode on the Zen 4 VM: ~83 -> ~92 t/s, bench/RESULTS.md 2026-11-27
 * 23:04). NULL for 0 bytes or when out of memory; release with free(). */
void *zeta_alloc_huge(size_t bytes);

/* fn(ctx, i0, i1) over [0, n), split into up to n_threads (at most 16) contiguous ranges, one a
 * thread, the calling thread taking the first. A range whose thread could not be started, or whose
 * fn returned false (out of memory), runs again on the calling thread; false when it fails there
 * too. For work whose ranges write disjoint bytes: the result then does not depend on the count. */
typedef bool (*zeta_range_fn)(void *ctx, size_t i0, size_t i1);
bool zeta_par_for(size_t n, int n_threads, zeta_range_fn fn, void *ctx);

#endif
