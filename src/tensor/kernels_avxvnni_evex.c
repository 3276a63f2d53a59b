/* kernels_avxvnni_evex.c — kernels_avxvnni.c compiled for AVX-512 VL + VNNI
 * (the EVEX form of the same vpdpbusd on ymm), so that the avxvnni level runs,
 * and is tested, on CPUs with AVX-512 VNNI but without AVX-VNNI.  See there. */
#define VOX_AVXVNNI_EVEX 1
#include "kernels_avxvnni.c"
