#!/usr/bin/env bash
# run.sh BUILD_DIR — the fuzz corpora as regression tests: every committed
# input of tests/fuzz/corpus/TARGET (seeds, and every crash or finding kept
# from fuzzing) is fed once to TARGET's harness built into BUILD_DIR/fuzz/
# (no fuzzing engine needed; under build-san with ASan + UBSan).  A target
# without a corpus, or a corpus without a target, fails.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
pass=0; fail=0
for dir in tests/fuzz/corpus/*/; do
    t=$(basename "$dir")
    if [ ! -x "$BUILD/fuzz/$t" ]; then
        echo "FAIL fuzz: corpus $t has no harness $BUILD/fuzz/$t"; fail=$((fail+1)); continue
    fi
done
for bin in "$BUILD"/fuzz/*; do
    t=$(basename "$bin")
    if [ ! -d "tests/fuzz/corpus/$t" ]; then
        echo "FAIL fuzz: harness $t has no corpus"; fail=$((fail+1)); continue
    fi
    out=$(LSAN_OPTIONS="suppressions=tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
          "$bin" "tests/fuzz/corpus/$t" 2>&1); rc=$?
    n=$(echo "$out" | sed -nE 's/.*: ([0-9]+) passed, [0-9]+ failed.*/\1/p' | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$n" ]; then
        pass=$((pass + n))
    else
        echo "$out" | tail -n 20
        echo "FAIL fuzz: $t corpus (exit $rc)"; fail=$((fail+1))
    fi
done
echo "fuzz regression: $pass passed, $fail failed"
[ $fail -eq 0 ]
