#!/usr/bin/env bash
# neon.sh — developer check of the AArch64 NEON kernels (not part of tests/run.sh).
#
# Cross-compiles the kernel and quantization unit tests (tests/unit/test_kernels.c,
# tests/unit/test_quant.c with the few library files they need) for aarch64 with
# a static link, and runs them under qemu-aarch64 on three CPU models:
#   max          dot product and i8mm: levels neon (SDOT kernels) and neon+i8mm
#                (SMMLA kernels, SDOT for an odd last row)
#   neoverse-n1  dot product, no i8mm: neon (SDOT kernels)
#   cortex-a53   neither: neon (plain NEON kernels)
# Each run tests every level the emulated CPU supports against the scalar
# reference, and the "levels:" line of test_kernels must show what the model
# should have (so a qemu that stops reporting a feature fails here rather than
# skipping those kernels).  This checks correctness only: speed under an
# emulator says nothing about real ARM hardware.
#
# Run from anywhere:   tests/cross/neon.sh
# Needs (Debian):      apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
# Without those tools it fails (exit 1) unless VOXTTS_ALLOW_SKIP=1 says that a
# missing tool may be skipped.
set -u
cd "$(dirname "$0")/../.."
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "neon: no cross compiler ($CC)"; [ "${VOXTTS_ALLOW_SKIP:-0}" = 1 ] && exit 0; exit 1
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "neon: no $QEMU"; [ "${VOXTTS_ALLOW_SKIP:-0}" = 1 ] && exit 0; exit 1
fi
OUT=${OUT:-build/aarch64}
mkdir -p "$OUT"
CFLAGS="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc"
LIBSRC="src/base/error.c src/base/threadpool.c src/tensor/kernels.c src/tensor/kernels_ref.c
        src/tensor/kernels_avx2.c src/tensor/kernels_avx512.c src/tensor/kernels_avx512bf16.c
        src/tensor/kernels_avx512vnni.c src/tensor/kernels_avxvnni.c src/tensor/kernels_avxvnni_evex.c
        src/tensor/kernels_neon.c src/tensor/quant.c src/tensor/tensor.c"
fail=0; pass_total=0; fail_total=0
for t in test_kernels test_quant; do
    echo "neon: building $OUT/$t"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -static tests/unit/$t.c $LIBSRC -lm -lpthread -o "$OUT/$t"; then
        echo "neon: build of $t failed"; fail=1; continue
    fi
    for cpu in max neoverse-n1 cortex-a53; do
        case $cpu in
            max) want="neon=neon+dotprod neon+i8mm=neon+i8mm" ;;
            neoverse-n1) want="neon=neon+dotprod neon+i8mm=unsupported" ;;
            *) want="neon=neon neon+i8mm=unsupported" ;;
        esac
        echo "neon: running $t on qemu -cpu $cpu"
        log=$(VOX_TEST_NO_SPAWN=1 "$QEMU" -cpu "$cpu" "$OUT/$t" 2>&1); rc=$?
        echo "$log" | grep -E "^(simd|levels):|FAIL|passed" | head -40
        if [ "$t" = test_kernels ]; then
            levels=$(echo "$log" | grep '^levels:' | tail -n 1)
            case "$levels" in
                *" $want") ;;
                *) echo "neon: FAIL: -cpu $cpu: levels line does not end in '$want'"; rc=1 ;;
            esac
        fi
        line=$(echo "$log" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
        p=$(echo "$line" | sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p'); p=${p:-0}
        f=$(echo "$line" | sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p'); f=${f:-0}
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
        pass_total=$((pass_total + p)); fail_total=$((fail_total + f))
        [ "$rc" -ne 0 ] && fail=1
    done
done
echo "neon: $pass_total passed, $fail_total failed"
exit $fail
