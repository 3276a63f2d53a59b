#!/usr/bin/env bash
# build.sh [OUT_DIR] — libFuzzer builds of every tests/fuzz/fuzz_*.c with
# AddressSanitizer + UndefinedBehaviorSanitizer (Debian's clang; libFuzzer
# comes with libclang-rt-14-dev).  Each binary is then run from the
# repository root, e.g.
#   build/fuzzers/safetensors -runs=2000000 tests/fuzz/corpus/safetensors
# (see tests/fuzz/README.md for the recorded runs).
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:-build/fuzzers}
CLANG=${CLANG:-clang}
mkdir -p "$OUT/obj"
FLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc -Itests/fuzz -Icli"
# The SIMD kernel files are not what is fuzzed and take clang minutes each to
# instrument: they are built plainly (still linked, so every parser runs as in
# the product).
PLAIN="-std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -Isrc"
objs=""
for src in src/*/*.c cli/wyoming_event.c cli/serve_request.c; do   # the Wyoming event parser is the command's
    o="$OUT/obj/$(echo "$src" | tr / _).o"
    case "$src" in src/tensor/kernels_*) f=$PLAIN ;; *) f=$FLAGS ;; esac
    if [ ! -e "$o" ] || [ "$src" -nt "$o" ]; then $CLANG $f -c "$src" -o "$o"; fi
    objs="$objs $o"
done
for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    $CLANG $FLAGS -fsanitize=fuzzer "$f" $objs -lpcre2-8 -lcjson -lsndfile -lsoxr -lm -lpthread -o "$OUT/$t"
    echo "built $OUT/$t"
done
