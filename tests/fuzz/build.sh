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
FLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc -Itests/fuzz"
objs=""
for src in src/*/*.c cli/wyoming_event.c; do   # the Wyoming event parser is the command's
    o="$OUT/obj/$(echo "$src" | tr / _).o"
    if [ ! -e "$o" ] || [ "$src" -nt "$o" ]; then $CLANG $FLAGS -c "$src" -o "$o"; fi
    objs="$objs $o"
done
for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    $CLANG $FLAGS -fsanitize=fuzzer "$f" $objs -lpcre2-8 -lcjson -lm -lpthread ${FUZZ_LIBS:-} -o "$OUT/$t"
    echo "built $OUT/$t"
done
