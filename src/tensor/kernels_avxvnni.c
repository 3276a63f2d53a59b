/* kernels_avxvnni.c — the AVX-VNNI kernel set: Q8_0 and Q4_K products with
 * vpdpbusd on 256-bit registers (VEX encoding, CPUID.(EAX=7,ECX=1):EAX bit 4,
 * "avxvnni" in /proc/cpuinfo: Intel Alder Lake and later client cores, Zen 5).
 * Every other dtype of the avxvnni level runs the AVX2 set.
 *
 * The kernels are those of kernels_x86q.h (the same prepared activation rows,
 * packed layouts and float sequence as the AVX2 set: the two levels give the
 * same bits, see there), with one vpdpbusd where AVX2 needs vpmaddubsw +
 * vpmaddwd + vpaddd.
 *
 * The same source is compiled a second time by kernels_avxvnni_evex.c with
 * VOX_AVXVNNI_EVEX defined: then the target is AVX-512 VL + VNNI and the
 * intrinsic the EVEX vpdpbusd on ymm, the same operation on the same
 * registers.  That copy lets a CPU with AVX-512 VNNI but no AVX-VNNI (Zen 4,
 * Ice Lake, Sapphire Rapids have both) run this level, so that it is tested
 * there; kernels.c uses the VEX copy whenever the CPU has AVX-VNNI. */
#include <stdint.h>
#include <string.h>

#include "tensor/kernels_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) &&                                 \
    (defined(__clang__) ? __clang_major__ >= 12 : __GNUC__ >= 11)

#if defined(VOX_AVXVNNI_EVEX)
#define X86Q_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define X86Q_SET_NAME "avxvnni-evex"
#define X86Q_ACCESSOR vox_kernels_avxvnni_evex
#else
#define X86Q_DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#define X86Q_SET_NAME "avxvnni"
#define X86Q_ACCESSOR vox_kernels_avxvnni
#endif

#if defined(__clang__) && defined(VOX_AVXVNNI_EVEX)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
                             apply_to = function)
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)
#elif defined(VOX_AVXVNNI_EVEX)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avxvnni")
#endif

#include <immintrin.h>

#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#else
#define VOX_UNROLL _Pragma("GCC unroll 8")
#endif

#define X86Q_VNNI 1
#include "tensor/kernels_x86q.h"

static const vox_kernel_set avxvnni_set = {
    X86Q_SET_NAME,
    {
        X86Q_KERNELS,
    },
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const vox_kernel_set *X86Q_ACCESSOR(void) { return &avxvnni_set; }

#elif defined(VOX_AVXVNNI_EVEX)

const vox_kernel_set *vox_kernels_avxvnni_evex(void) { return NULL; }

#else

const vox_kernel_set *vox_kernels_avxvnni(void) { return NULL; }

#endif
