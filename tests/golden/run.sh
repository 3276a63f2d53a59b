#!/usr/bin/env bash
# run.sh — runs every golden case against `voxtts debug` (see tests/golden/README.md).
#
# Usage: tests/golden/run.sh [BUILD_DIR] [FILTER]
#   BUILD_DIR  holds voxtts and tools/npycmp (default: build)
#   FILTER     only cases whose "<checkpoint>/<case>" contains this string
# For each tests/golden/<ckpt>/<case>/cmd: substitute {MODEL} (tests/models/<ckpt>),
# {MODELDIR} (always tests/models/<ckpt>: files beside the checkpoint, such as
# encoder.safetensors), {CASE} (the case dir) and {OUT} (a temporary .npy), run BUILD_DIR/voxtts debug
# with those arguments, and compare: expected.txt against stdout (trailing
# newlines ignored), expected.npy with npycmp (float32 rel err <= 1e-4, int32
# identical).  One line per case, then "golden: N passed, M failed"; exit 1 on
# any failure.
# Model override: when the environment variable GOLDEN_MODEL_<ckpt> is set (the
# checkpoint name with '-' turned into '_', e.g. GOLDEN_MODEL_tiny_a), {MODEL}
# is its value instead of tests/models/<ckpt> — e.g. a GGUF made from that
# checkpoint by `voxtts quantize` (tests/quantize/run.sh).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build}
FILTER=${2:-}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
VOXTTS=$BUILD/voxtts
NPYCMP=$BUILD/tools/npycmp
for exe in "$VOXTTS" "$NPYCMP"; do
    if [ ! -x "$exe" ]; then
        echo "golden: $exe not found (build it first: make)" >&2
        exit 1
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/voxtts-golden.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0
for cmdfile in "$ROOT"/tests/golden/*/*/cmd; do
    [ -f "$cmdfile" ] || continue
    casedir=$(dirname "$cmdfile")
    ckpt=$(basename "$(dirname "$casedir")")
    name="$ckpt/$(basename "$casedir")"
    case $name in *"$FILTER"*) ;; *) continue ;; esac
    model=$ROOT/tests/models/$ckpt
    override=GOLDEN_MODEL_${ckpt//-/_}
    [ -n "${!override:-}" ] && model=${!override}
    out=$TMP/${name//\//_}.npy
    line=$(head -n 1 "$cmdfile")
    line=${line//\{MODELDIR\}/$ROOT/tests/models/$ckpt}
    line=${line//\{MODEL\}/$model}
    line=${line//\{CASE\}/$casedir}
    line=${line//\{OUT\}/$out}
    read -r -a args <<<"$line"

    "$VOXTTS" debug "${args[@]}" >"$TMP/stdout" 2>"$TMP/stderr"
    rc=$?
    if [ $rc -ne 0 ]; then
        msg=$(tail -n 1 "$TMP/stderr")
        echo "FAIL $name: voxtts exited with $rc: $msg"
        failed=$((failed + 1))
        continue
    fi
    if [ -f "$casedir/expected.txt" ]; then
        if [ "$(cat "$TMP/stdout")" == "$(cat "$casedir/expected.txt")" ]; then
            echo "ok   $name"
            passed=$((passed + 1))
        else
            echo "FAIL $name: stdout differs from expected.txt"
            diff <(tr ' ' '\n' <"$casedir/expected.txt") <(tr ' ' '\n' <"$TMP/stdout") |
                head -n 6 | sed 's/^/     /'
            failed=$((failed + 1))
        fi
    elif [ -f "$casedir/expected.npy" ]; then
        if [ ! -f "$out" ]; then
            echo "FAIL $name: no output file written"
            failed=$((failed + 1))
            continue
        fi
        res=$("$NPYCMP" "$casedir/expected.npy" "$out" 2>&1)
        if [ $? -eq 0 ]; then
            echo "ok   $name: $res"
            passed=$((passed + 1))
        else
            echo "FAIL $name: $res"
            failed=$((failed + 1))
        fi
        rm -f "$out"
    else
        echo "FAIL $name: no expected.txt or expected.npy"
        failed=$((failed + 1))
    fi
done

echo "golden: $passed passed, $failed failed"
[ $failed -eq 0 ]
