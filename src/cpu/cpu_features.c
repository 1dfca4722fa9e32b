/* cpu_features.c — run-time choice of the CPU kernel table: detects which ISAs the CPU and the OS
 * support (x86: cpuid + xgetbv; AArch64: getauxval on Linux, sysctl on Apple), completes a table's
 * empty slots, and picks the best table once (thread-safe). Tables of another architecture are not
 * compiled in and are reported as NULL. */
#if defined(__APPLE__) && !defined(_DARWIN_C_SOURCE)
#define _DARWIN_C_SOURCE 1 /* sysctlbyname and <sys/sysctl.h>'s types under -D_POSIX_C_SOURCE */
#endif
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifdef ZETA_HAVE_NEON
#if defined(__APPLE__)
#include <sys/sysctl.h>
#elif defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20) /* the arm64 Linux uapi bit */
#endif
#endif
#endif

/* ZETA_CPU_ISA=scalar|avx2|avxvnni|avx512|avx512vnni (x86), scalar|neon|neondot (AArch64): use no
 * instruction set beyond that one, as if the CPU had nothing newer (to run and measure the kernels an
 * older CPU would use); unset or unknown: no cap. Read once. */
enum { CAP_SCALAR, CAP_1, CAP_2, CAP_3, CAP_4, CAP_NONE };
static pthread_once_t g_cap_once = PTHREAD_ONCE_INIT;
static int g_cap = CAP_NONE;
static void read_cap(void) {
    static const struct { const char *name; int level; } names[] = {
        {"scalar", CAP_SCALAR}, {"avx2", CAP_1}, {"avxvnni", CAP_2}, {"avx512", CAP_3}, {"avx512vnni", CAP_4},
        {"neon", CAP_1}, {"neondot", CAP_2},
    };
    const char *e = getenv("ZETA_CPU_ISA");
    for (size_t i = 0; e && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(e, names[i].name)) g_cap = names[i].level;
}
/* whether the cap excludes an instruction set of this level */
static bool capped(int level) {
    pthread_once(&g_cap_once, read_cap);
    return g_cap < level;
}

#ifdef ZETA_HAVE_X86
#include <cpuid.h>

/* XCR0: which register state the OS saves on context switch. */
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* CPUID leaf 1 ECX / leaf 7 EBX, ECX / leaf 7 sub-leaf 1 EAX bits and XCR0 bits we test. */
enum {
    L1_FMA = 1u << 12, L1_OSXSAVE = 1u << 27, L1_AVX = 1u << 28, L1_F16C = 1u << 29,
    L7_AVX2 = 1u << 5, L7_AVX512F = 1u << 16, L7_AVX512DQ = 1u << 17, L7_AVX512BW = 1u << 30,
    L7_AVX512VL = 1u << 31,
    L7_ECX_AVX512VNNI = 1u << 11,
    L7S1_EAX_AVXVNNI = 1u << 4,
    XCR0_SSE_AVX = 0x6,    /* XMM | YMM */
    XCR0_AVX512 = 0xe6     /* XMM | YMM | opmask | ZMM_Hi256 | Hi16_ZMM */
};

/* Leaf 1 ECX and leaf 7 (sub-leaf 0) EBX; false if the CPU lacks those leaves. */
static bool cpuid_bits(uint32_t *ecx1, uint32_t *ebx7) {
    uint32_t a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return false;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    *ecx1 = c;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    *ebx7 = b;
    return true;
}

bool zk_cpu_has_avx2(void) {
    uint32_t ecx1, ebx7;
    if (capped(CAP_1) || !cpuid_bits(&ecx1, &ebx7)) return false;
    const uint32_t need1 = L1_FMA | L1_OSXSAVE | L1_AVX | L1_F16C;
    if ((ecx1 & need1) != need1 || !(ebx7 & L7_AVX2)) return false;
    return (read_xcr0() & XCR0_SSE_AVX) == XCR0_SSE_AVX;
}

bool zk_cpu_has_avx512(void) {
    uint32_t ecx1, ebx7;
    if (capped(CAP_3) || !zk_cpu_has_avx2() || !cpuid_bits(&ecx1, &ebx7)) return false;
    const uint32_t need7 = L7_AVX512F | L7_AVX512DQ | L7_AVX512BW | L7_AVX512VL;
    if ((ebx7 & need7) != need7) return false;
    return (read_xcr0() & XCR0_AVX512) == XCR0_AVX512;
}

/* AVX-512 (as above: F, BW, VL, DQ and the OS ZMM state) plus AVX512_VNNI, leaf 7 ECX bit 11. */
bool zk_cpu_has_avx512vnni(void) {
    uint32_t a, b, c, d;
    if (capped(CAP_4) || !zk_cpu_has_avx512() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (c & L7_ECX_AVX512VNNI) != 0;
}

/* AVX2 (as above, with the OS YMM state) plus AVX-VNNI, leaf 7 sub-leaf 1 EAX bit 4. Leaf 7
 * sub-leaf 0 EAX is the highest sub-leaf the CPU has. */
bool zk_cpu_has_avxvnni(void) {
    uint32_t a, b, c, d;
    if (capped(CAP_2) || !zk_cpu_has_avx2() || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return false;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a & L7S1_EAX_AVXVNNI) != 0;
}

#else /* not x86: kernels_avx2*.c / kernels_avxvnni*.c / kernels_avx512*.c are not compiled */

bool zk_cpu_has_avx2(void) { return false; }
bool zk_cpu_has_avxvnni(void) { return false; }
bool zk_cpu_has_avx512(void) { return false; }
bool zk_cpu_has_avx512vnni(void) { return false; }
const zk_kernels *zk_avx2(void) { return NULL; }
const zk_kernels *zk_avxvnni(void) { return NULL; }
const zk_kernels *zk_avx512(void) { return NULL; }
const zk_kernels *zk_avx512vnni(void) { return NULL; }

#endif

#ifdef ZETA_HAVE_NEON /* aarch64: kernels_neon*.c are compiled in */

bool zk_cpu_has_neon(void) { return !capped(CAP_1); } /* Advanced SIMD is mandatory in AArch64 */

bool zk_cpu_has_neondot(void) {
    if (capped(CAP_2)) return false;
#if defined(__APPLE__)
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &len, NULL, 0) == 0 && v != 0;
#elif defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
    return false; /* no known way to ask: stay on the baseline table */
#endif
}

#else /* not aarch64 */

bool zk_cpu_has_neon(void) { return false; }
bool zk_cpu_has_neondot(void) { return false; }
const zk_kernels *zk_neon(void) { return NULL; }
const zk_kernels *zk_neondot(void) { return NULL; }

#endif

/* Fills every empty slot of *out from `t`. */
static void overlay(zk_kernels *out, const zk_kernels *t) {
    for (int i = 0; i < ZETA_TYPE_COUNT; i++) {
        if (t->vec_dot[i]) out->vec_dot[i] = t->vec_dot[i];
        if (t->from_float[i]) out->from_float[i] = t->from_float[i];
    }
    out->name = t->name;
}

void zk_complete(const zk_kernels *t, zk_kernels *out) {
    *out = *zk_scalar();
    if (t) overlay(out, t);
}

/* The selected table: written once under pthread_once, read-only afterwards. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static zk_kernels g_selected;

static void select_once(void) {
    zk_kernels t = *zk_scalar();
    /* later (wider) tables override earlier ones slot by slot: avx2 < avxvnni < avx512 < avx512vnni
     * (the VNNI tables fill only the integer dots; the float dots and quantizers stay avx2's or
     * avx512's) */
    if (zk_avx2() && zk_cpu_has_avx2()) overlay(&t, zk_avx2());
    if (zk_avxvnni() && zk_cpu_has_avxvnni()) overlay(&t, zk_avxvnni());
    if (zk_avx512() && zk_cpu_has_avx512()) overlay(&t, zk_avx512());
    if (zk_avx512vnni() && zk_cpu_has_avx512vnni()) overlay(&t, zk_avx512vnni());
    if (zk_neon() && zk_cpu_has_neon()) overlay(&t, zk_neon());
    if (zk_neondot() && zk_cpu_has_neondot()) overlay(&t, zk_neondot());
    g_selected = t;
}

const zk_kernels *zk_select(void) {
    pthread_once(&g_once, select_once);
    return &g_selected;
}
